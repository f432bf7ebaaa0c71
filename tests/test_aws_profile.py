"""The aws profile end to end on a moto server over real HTTP: the same assets, SQL and checks as local."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import dagster as dg

from clickstream_assets.cli.runs import run_assets
from clickstream_assets.definitions import build_definitions
from clickstream_assets.defs.plan import PLAN
from clickstream_assets.defs.processed.models import MODELS
from clickstream_assets.ledger import read_ledgers
from clickstream_assets.producer.runner import produce_historical
from clickstream_assets.producer.simulator import Mess
from resources.profile import build_resources
from resources.provision import provision
from resources.sinks import FirehoseSink, LocalFirehoseSink
from resources.storage import S3Storage
from tests.pipeline import Pipeline

ACCOUNT = "123456789012"
TODAY = datetime.now(timezone.utc).date()
START = TODAY - timedelta(days=3)
DAYS = [START.isoformat(), (START + timedelta(days=1)).isoformat()]
MESS = Mess(duplicate_rate=0.02, malformed_rate=0.01)


def run_all(defs, instance, first_arrival, last_arrival):
    outcomes = []
    for step, first, last in zip(PLAN, (first_arrival, DAYS[0], None, None), (last_arrival, DAYS[-1], None, None)):
        outcomes.append(run_assets(defs, instance, step.keys, first, last))
    for outcome in outcomes:
        assert outcome.success, outcome.error
        assert not outcome.blocking_failed, outcome.blocking_failed
    return outcomes


def test_provisioning_is_idempotent_and_secure(aws):
    moto, names = aws
    provision(names, "us-east-1", moto, log=lambda _: None)  # a second run changes nothing and fails on nothing
    s3 = boto3.client("s3", endpoint_url=moto)
    for bucket in (names["raw_bucket"], names["processed_bucket"]):
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    stream = boto3.client("firehose", endpoint_url=moto).describe_delivery_stream(DeliveryStreamName=names["stream"])
    destination = stream["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 300}
    assert destination["ErrorOutputPrefix"].startswith("errors/")
    workgroup = boto3.client("athena", endpoint_url=moto).get_work_group(WorkGroup=names["workgroup"])["WorkGroup"]
    assert workgroup["Configuration"]["EnforceWorkGroupConfiguration"] is True
    alarms = boto3.client("cloudwatch", endpoint_url=moto).describe_alarms()["MetricAlarms"]
    assert {"clickstream-no-data", "clickstream-query-failures", "clickstream-stale-data"} <= {
        a["AlarmName"] for a in alarms}


def test_end_to_end_on_the_emulator_matches_the_local_profile(aws, athena, tmp_path, monkeypatch):
    moto, names = aws
    firehose = boto3.client("firehose", endpoint_url=moto)
    sent = produce_historical(FirehoseSink(firehose, names["stream"]), START, 2, 1_500, seed=5, mess=MESS)
    assert sent.error is None and sent.delivered == sent.records_sent
    # Firehose keys objects by the hour they arrive: now (the hour before, if it just turned).
    now = datetime.now(timezone.utc)
    first_arrival, last_arrival = (now - timedelta(hours=1)).date().isoformat(), now.date().isoformat()
    resources = build_resources("aws")
    defs = build_definitions(resources)
    instance = dg.DagsterInstance.ephemeral()

    read_bytes = S3Storage.read_bytes

    def no_raw_download(self, area, key):
        assert area != "raw", f"the Dagster process read raw/{key}: raw data is Athena's to read"
        return read_bytes(self, area, key)

    monkeypatch.setattr(S3Storage, "read_bytes", no_raw_download)
    outcomes = run_all(defs, instance, first_arrival, last_arrival)

    # Parquet in the processed bucket, tables and partitions in Glue, QuickSight objects, CloudWatch metrics.
    s3 = boto3.client("s3", endpoint_url=moto)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=names["processed_bucket"], Prefix="sessions/")["Contents"]]
    # Athena's layout: one UNLOAD wrote both days under a fresh version prefix, in files named by Athena.
    versions = {k.split("/")[1] for k in keys}
    assert len(versions) == 1 and versions.pop().startswith("v-")
    assert sorted({k.split("/")[2] for k in keys}) == [f"dt={d}" for d in DAYS]
    assert not any(k.endswith("part-0.parquet") for k in keys)
    glue = boto3.client("glue", endpoint_url=moto)
    table = glue.get_table(DatabaseName=names["database"], Name="events")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{names['processed_bucket']}/events/"
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]][:3] == ["event_id", "schema_version", "event_ts"]
    partitions = glue.get_partitions(DatabaseName=names["database"], TableName="sessions")["Partitions"]
    assert sorted(p["Values"][0] for p in partitions) == DAYS
    located = {p["StorageDescriptor"]["Location"].rstrip("/") for p in partitions}
    assert located == {f"s3://{names['processed_bucket']}/{k.rsplit('/', 1)[0]}" for k in keys}

    # Athena ran the graph: sealing read the raw objects where they lie, every model was one UNLOAD for its days.
    unloads = [e for e in athena.twin.log if e.unload]
    staging = [e for e in unloads if "/staged_events/v-" in e.sql]
    raw = s3.list_objects_v2(Bucket=names["raw_bucket"], Prefix="events/")["Contents"]
    assert len(staging) == 1 and staging[0].bytes_scanned == sum(o["Size"] for o in raw)
    assert all(e.state == "SUCCEEDED" for e in athena.twin.log)
    for model in MODELS:
        written = [e for e in unloads if f"/{model.name}/v-" in e.sql]
        assert len(written) == 1, (model.name, len(written))
        assert written[0].bytes_scanned > 0
    ledgers = read_ledgers(resources["storage"])
    assert sum(d.clean for d in ledgers.values()) == sent.produced
    assert all(d.reconciles for d in ledgers.values())
    qs = boto3.client("quicksight", endpoint_url=moto)
    assert qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId="clickstream-athena")["DataSource"]
    assert qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId="clickstream-dashboard")["Dashboard"]
    cw = boto3.client("cloudwatch", endpoint_url=moto)
    stats = cw.get_metric_statistics(
        Namespace="Clickstream", MetricName="RowsClean", Dimensions=[{"Name": "Asset", "Value": "processed/events"},
                                                                     {"Name": "Partition", "Value": DAYS[0]}],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(hours=1), Period=3600, Statistics=["Sum"])
    assert stats["Datapoints"] and stats["Datapoints"][0]["Sum"] > 1000

    # The same seed on the local profile gives the same numbers.
    local = Pipeline(tmp_path / "local")
    summary = produce_historical(LocalFirehoseSink(str(local.warehouse / "raw"), seed=5), START, 2, 1_500, seed=5,
                                 mess=MESS)
    assert summary.produced == sent.produced
    assert run_all(local.defs, local.instance, START.isoformat(), TODAY.isoformat())
    aws_engine, local_engine = resources["engine"], local.resources["engine"]
    for query in ("dashboard/conversion_over_time.sql", "dashboard/top_products.sql", "dashboard/traffic_sources.sql"):
        assert aws_engine.query(query, {})[0].to_pylist() == local_engine.query(query, {})[0].to_pylist(), query
    assert all(all(o.checks.values()) for o in outcomes)
