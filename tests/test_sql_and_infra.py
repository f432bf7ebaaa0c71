"""Every SQL file is Athena SQL that transpiles to DuckDB; the template matches the DDL and the alarm list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
import yaml

from clickstream_assets.contract import COMMERCE_FIELDS, FIELDS
from resources.alarms import ALARMS
from resources.catalog import load_ddl
from resources.sql import SQL_ROOT

SQL_FILES = sorted(str(p.relative_to(SQL_ROOT)) for p in SQL_ROOT.rglob("*.sql"))
TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "clickstream.yaml"
LOCATIONS = {"raw": "s3://raw", "processed": "s3://processed", "raw_events": "s3://raw/events/"}


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.mark.parametrize("sql_file", SQL_FILES)
def test_every_sql_file_is_athena_sql_that_transpiles_to_duckdb(sql_file):
    text = (SQL_ROOT / sql_file).read_text()
    assert text.lstrip().startswith("--"), f"{sql_file} should say what it is in a leading comment"
    tree = sqlglot.parse_one(text, read="athena")
    duck = tree.sql("duckdb")
    assert duck and sqlglot.parse_one(duck, read="duckdb")


@pytest.mark.parametrize("sql_file", [f for f in SQL_FILES if not f.startswith("ddl/")])
def test_every_query_renders_for_athena_with_its_parameters_bound(sql_file, moto):
    from clickstream_assets.settings import PipelineSettings
    from resources.athena import AthenaEngine
    from resources.catalog import GlueCatalog
    from resources.engine import DuckDBEngine
    from resources.sql import parse
    from resources.storage import S3Storage

    storage = S3Storage(raw_bucket="raw", processed_bucket="processed", endpoint_url=moto)
    catalog = GlueCatalog(database="db", endpoint_url=moto)
    engine = AthenaEngine(storage=storage, catalog=catalog, local=DuckDBEngine(storage=storage, catalog=catalog),
                          database="db", workgroup="primary", output_location="s3://out/", endpoint_url=moto)
    params = {"first_day": "2026-11-02", "last_day": "2026-11-03", "calendar_start": "2026-11-01",
              "late_arrival_hours": 6, "gap_minutes": 30, "max_event_age_days": 30, **PipelineSettings().page_params()}
    named = {p.name for p in parse(sql_file).find_all(sqlglot.exp.Placeholder)}  # its views' included
    needed = {k: v for k, v in params.items() if k in named}
    assert named <= set(needed), f"{sql_file} names parameters this test does not bind: {named - set(needed)}"
    rendered = engine.render(sql_file, needed)
    # moto's Athena accepts any string (even "SELEKT ;;;"), so the check is sqlglot's strict Trino parser:
    # the rendered text is one statement, no placeholder left, and each bound value is in it as a literal.
    tree = sqlglot.parse_one(rendered, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
    assert not list(tree.find_all(sqlglot.exp.Placeholder))
    literals = {lit.this for lit in tree.find_all(sqlglot.exp.Literal)}
    assert {str(v) for v in needed.values()} <= literals, sql_file


def test_the_events_ddl_holds_the_contract():
    table = load_ddl("events", LOCATIONS)
    names = [c.name for c in table.columns]
    # The DDL is the one schema of the clean table: every contract field is stored (``timestamp`` as ``event_ts``),
    # and version 2's commerce fields come last, so the table only grows at its end (Glue and Parquet read by name).
    assert {f for f in FIELDS if f != "timestamp"} | {"event_ts"} <= set(names)
    assert names[-len(COMMERCE_FIELDS):] == list(COMMERCE_FIELDS)
    assert table.partition_keys[0].name == "dt" and table.format == "parquet"


def test_cfn_lint_passes_on_the_template():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_templates_tables_match_the_ddl_files():
    resources = yaml.load(TEMPLATE.read_text(), Loader=_Loader)["Resources"]
    tables = [r["Properties"]["TableInput"] for r in resources.values() if r["Type"] == "AWS::Glue::Table"]
    assert {t["Name"] for t in tables} == {"events", "raw_events", "quarantine"}
    for table in tables:
        ddl = load_ddl(table["Name"], LOCATIONS)
        assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
            (c.name, c.hive_type) for c in ddl.columns]


def test_the_templates_alarms_are_the_pipelines_alarms():
    resources = yaml.load(TEMPLATE.read_text(), Loader=_Loader)["Resources"]
    alarms = {r["Properties"]["AlarmName"]: r["Properties"] for r in resources.values()
              if r["Type"] == "AWS::CloudWatch::Alarm"}
    for alarm in ALARMS:
        declared = alarms[alarm.name]
        assert declared["Threshold"] == alarm.threshold
        assert declared["ComparisonOperator"] == alarm.comparison
        assert declared.get("MetricName", alarm.metric) == alarm.metric


def test_buckets_are_encrypted_private_and_tls_only():
    resources = yaml.load(TEMPLATE.read_text(), Loader=_Loader)["Resources"]
    buckets = {k: r for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket"}
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert all(props["PublicAccessBlockConfiguration"].values())
    policies = [r for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert len(policies) == 2
    for policy in policies:
        statement = policy["Properties"]["PolicyDocument"]["Statement"][0]
        assert statement["Effect"] == "Deny" and statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"]["Policies"]:
                for statement in policy["PolicyDocument"]["Statement"]:
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    assert not any(a == "*" or a.endswith(":*") for a in actions), statement
