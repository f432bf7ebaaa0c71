"""Beyond the anchors: the completeness ledger, cost per materialization, planted truth, column lineage, scale."""

from __future__ import annotations

import json
from datetime import date, datetime

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from benchmarks.scale import Measured, plan, render
from clickstream_assets import lineage
from clickstream_assets.cli.cost import cost_report
from clickstream_assets.defs.processed.completeness import build_completeness
from clickstream_assets.defs.processed.models import MODELS
from clickstream_assets.defs.processed.truth import planted_truth_result
from clickstream_assets.producer.simulator import Mess
from clickstream_assets.settings import PipelineSettings
from tests.pipeline import DAILY, WHOLE, Pipeline, raw_objects

START = date(2026, 11, 2)
LATE = 6
NOW = datetime(2026, 11, 20).astimezone()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pipeline = Pipeline(tmp_path_factory.mktemp("w"))
    summary = pipeline.produce(START, 3, 8_000, mess=Mess(duplicate_rate=0.01, malformed_rate=0.005))
    from clickstream_assets.ledger import record_producer_run

    record_producer_run(pipeline.resources["storage"], summary.as_dict())
    assert pipeline.seal(START, date(2026, 11, 4)).success
    days = pipeline.build("2026-11-02", "2026-11-05")
    models = pipeline.build("2026-11-02", "2026-11-05", keys=DAILY)
    whole = pipeline.build(None, None, keys=WHOLE + [["processed", "completeness"]])
    for outcome in (days, models, whole):
        assert outcome.success and not outcome.blocking_failed, (outcome.error, outcome.blocking_failed)
    return pipeline, summary, models, whole


def test_the_ledger_lines_up_every_hop_without_gaps(built):
    pipeline, summary, _, whole = built
    assert whole.checks["processed/completeness:no_gaps"]
    report = build_completeness(pipeline.resources["storage"], LATE, NOW)
    t = report["totals"]
    assert t["produced"] == t["accepted"] == t["landed"] == t["sealed"] == t["routed_to_days"] == summary.records_sent
    assert t["taken"] == t["clean"] + t["duplicates"] + t["quarantined"] == summary.records_sent
    assert t["clean"] == summary.produced and report["gaps"] == []


def test_a_lost_object_and_an_unsealed_one_are_gaps_named_by_hop_and_hour(built, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(built[0].warehouse, copy)
    pipeline = Pipeline(copy)
    objects = raw_objects(copy)
    lost = objects[10]
    lost.unlink()
    hour = "-".join(lost.parent.relative_to(copy / "raw" / "events").parts)
    gaps = build_completeness(pipeline.resources["storage"], LATE, NOW)["gaps"]
    assert any(g.startswith(f"landing: hour {hour}") for g in gaps)
    assert any(g.startswith(f"sealing: hour {hour}") for g in gaps)


def test_every_sql_materialization_records_its_cost_and_a_budget_can_fail_it(built):
    pipeline, _, models, _ = built
    event = pipeline.instance.get_latest_materialization_event(dg.AssetKey(["processed", "sessions"]))
    metadata = event.asset_materialization.metadata
    assert metadata["athena_cost_usd (estimate)"].value > 0
    assert metadata["bytes_scanned (estimate)"].value > 0
    assert models.checks["processed/sessions:scan_budget"]
    tight = dict(pipeline.resources)
    tight["settings"] = PipelineSettings(scan_budgets={"processed/sessions": 1000})
    from clickstream_assets.cli.runs import run_assets
    from clickstream_assets.definitions import build_definitions

    outcome = run_assets(build_definitions(tight), pipeline.instance, [["processed", "sessions"]], "2026-11-03",
                          "2026-11-03")
    assert outcome.checks["processed/sessions:scan_budget"] is False
    report = cost_report(pipeline.resources["storage"], pipeline.resources["metrics"], hours=1)
    assert report["sql_usd_by_asset"]["processed/events"] > 0 and "2026-11-03" in report["sql_usd_by_day"]
    # Every record is under 5 KB, so each bills exactly one 5 KB increment.
    assert report["firehose"]["billed_bytes"] == built[1].records_sent * 5120


def test_planted_truth_holds_and_a_broken_model_fails_it(built, tmp_path):
    pipeline, _, models, _ = built
    assert models.checks["processed/funnel_daily:planted_truth"]
    engine, storage = pipeline.resources["engine"], pipeline.resources["storage"]
    truth = planted_truth_result(engine, storage, 4.5)
    assert truth.passed
    # Revenue is held to the orders the producer sent: the mean order value and orders per purchasing session.
    table = truth.metadata["comparison"].value
    assert "| mean_order_value | USD |" in table and "| orders_per_purchasing_session |" in table
    assert "| reorder_rate | all |" in table
    # A broken orders model that counts every line twice doubles the mean order value: the check says so.
    originals = {}
    for day in ("2026-11-02", "2026-11-03", "2026-11-04"):
        path = pipeline.parquet("orders", day)
        originals[path] = table_ = pq.read_table(path)
        revenue = table_.schema.field("revenue").type
        doubled = pa.array([v * 2 for v in table_.column("revenue").to_pylist()], revenue)
        pq.write_table(table_.set_column(table_.schema.get_field_index("revenue"), "revenue", doubled), path)
    result = planted_truth_result(engine, storage, 4.5)
    assert not result.passed and "mean_order_value" in result.metadata["outside_tolerance"].value
    for path, original in originals.items():
        pq.write_table(original, path)
    # A broken funnel: everyone who adds to cart is counted as reaching checkout.
    for day in ("2026-11-02", "2026-11-03", "2026-11-04"):
        path = pipeline.parquet("funnel_daily", day)
        table = pq.read_table(path)
        broken = table.set_column(table.schema.get_field_index("checkout"), "checkout", table.column("add_to_cart"))
        pq.write_table(broken, path)
    result = planted_truth_result(engine, storage, 4.5)
    assert not result.passed and "checkout_rate[all]" in result.metadata["outside_tolerance"].value


def test_column_lineage_runs_from_raw_fields_to_dataset_columns(built):
    pipeline = built[0]
    latest = lambda *key: pipeline.instance.get_latest_materialization_event(  # noqa: E731
        dg.AssetKey(list(key))).asset_materialization.metadata["dagster/column_lineage"].value
    sessions = latest("processed", "sessions")
    channel = sessions.deps_by_column["channel"]
    assert [(d.asset_key.to_user_string(), d.column_name) for d in channel] == [("processed/events", "referrer_url")]
    events = latest("processed", "events")
    assert events.deps_by_column["event_ts"][0].column_name == "timestamp"
    assert events.deps_by_column["event_ts"][0].asset_key == dg.AssetKey(["raw", "events"])
    funnel = latest("processed", "funnel_daily")
    assert {d.column_name for d in funnel.deps_by_column["checkout"]} == {"checkout_at"}


def test_the_shipped_lineage_is_what_the_sql_says_today():
    """clickstream_assets/lineage.json spares every process start the sqlglot walk: it must be derived from the SQL as
    it is now (regenerate with python -m clickstream_assets.lineage)."""
    shipped = json.loads(lineage.SHIPPED.read_text())
    assert shipped["sql_digest"] == lineage.sql_digest()
    for model in MODELS:
        derived = lineage.derive_lineage(model.name, tuple(model.reads))
        assert shipped["models"][model.name]["columns"] == {c: [list(s) for s in v] for c, v in derived.items()}
        assert lineage.model_lineage(model.name, tuple(model.reads)) == derived


def test_scale_on_paper_follows_from_the_measured_bytes():
    measured = Measured(events=1000, raw_bytes=406_000, staged_bytes=73_000, clean_bytes=40_500, model_bytes=11_400,
                        clean_step_scanned=146_000, models_scanned=125_000)
    figures = plan(measured)
    assert figures["streams"] == 2 and 8 < figures["peak_mib_s"] < 9
    assert round(figures["raw_gb_day"]) == round(1e9 * 406 / 1024**3)
    assert figures["firehose_usd_day"] == pytest.approx(1e9 * 5120 / 1024**3 * 0.029)
    text = render(measured, figures)
    assert "1,000,000,000 events a day" in text and "2 streams" in text


def test_quarantine_counts_in_the_ledger_match_the_quarantine_table(built):
    pipeline, summary, _, _ = built
    rows = sum(pq.read_metadata(p).num_rows for p in (pipeline.warehouse / "processed" / "quarantine")
               .glob("dt=*/part-0.parquet"))
    assert rows == sum(summary.injected_malformed.values())
    assert pc.sum(pq.read_table(pipeline.parquet("events", "2026-11-03")).column("schema_version")).as_py() > 0
