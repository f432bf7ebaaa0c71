"""Sensors, the producer job, freshness checks mirrored to metrics, and alarm rules."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import boto3
import dagster as dg
import pytest

from clickstream_assets.definitions import build_definitions
from clickstream_assets.defs.producer.jobs import producer_job, producer_sensor
from clickstream_assets.defs.raw.sensors import arrival_sensor, plan_arrivals
from clickstream_assets.ledger import read_manifests, read_producer_runs
from clickstream_assets.settings import PipelineSettings
from resources.alarms import ALARMS
from resources.metrics import CloudWatchMetrics, LocalMetrics, MetricPoint
from resources.profile import build_resources
from resources.sinks import LocalFirehoseSink
from tests.pipeline import Pipeline, land

HOUR = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)


# -- arrival sensor ------------------------------------------------------------------------------------------------

def test_a_closed_hour_is_sealed_once_and_nothing_new_means_no_run(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    storage = pipeline.resources["storage"]
    land(pipeline.warehouse, HOUR + timedelta(minutes=5))
    # Still open (and within the grace period): wait.
    requests, cursor = plan_arrivals(storage, HOUR + timedelta(minutes=65), None)
    assert requests == [] and json.loads(cursor)["from_hour"] == "2026-11-02-10"
    requests, cursor = plan_arrivals(storage, HOUR + timedelta(minutes=75), cursor)
    assert [r.run_key.split(":")[:3] for r in requests] == [["seal", "2026-11-02", "2026-11-02"]]
    assert requests[0].tags["dagster/asset_partition_range_start"] == "2026-11-02"  # the hour's arrival day
    again, _ = plan_arrivals(storage, HOUR + timedelta(minutes=75), None)
    assert again[0].run_key == requests[0].run_key  # deterministic: the same objects give the same key
    # Seal it for real; the next tick builds the day its records belong to and moves the cursor on.
    assert pipeline.seal_days(HOUR.date()).success
    requests, cursor = plan_arrivals(storage, HOUR + timedelta(minutes=80), cursor)
    assert [(r.run_key.split(":")[0], r.partition_key) for r in requests] == [("new", "2026-11-02")]
    assert json.loads(cursor)["from_hour"] == "2026-11-02-11"
    # Once the day is built, nothing new means no run.
    assert pipeline.build("2026-11-02").success
    requests, cursor = plan_arrivals(storage, HOUR + timedelta(minutes=85), cursor)
    assert requests == [] and json.loads(cursor)["from_hour"] == "2026-11-02-11"


def test_a_late_object_in_a_sealed_hour_is_sealed_again_and_its_day_rebuilt(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(date(2026, 11, 2), 1, 500)
    assert pipeline.seal_days(date(2026, 11, 2), date(2026, 11, 3)).success
    assert pipeline.build("2026-11-02").success
    storage = pipeline.resources["storage"]
    sealed = read_manifests(storage)
    land(pipeline.warehouse, datetime(2026, 11, 2, 14, 59, tzinfo=timezone.utc))  # Firehose flushed it late
    requests, cursor = plan_arrivals(storage, datetime(2026, 11, 3, 6, tzinfo=timezone.utc), None)
    assert [r.run_key.split(":")[1] for r in requests] == ["2026-11-02"]
    # Sealing the day again re-stages only the hour that changed; the other hours keep their seal.
    assert pipeline.seal_days(date(2026, 11, 2)).success
    resealed = {h for h, m in read_manifests(storage).items() if m.sealed_at != sealed[h].sealed_at}
    assert resealed == {"2026-11-02-14"} and read_manifests(storage)["2026-11-02-14"].records == \
        sealed["2026-11-02-14"].records + 3
    # The day that hour feeds is now stale: the sensor asks to rebuild exactly that day.
    requests, _ = plan_arrivals(storage, datetime(2026, 11, 3, 6, tzinfo=timezone.utc), cursor)
    late = [r for r in requests if r.run_key.startswith("late:")]
    assert [r.partition_key for r in late] == ["2026-11-02"]


def test_live_sealing_seals_the_open_hour_at_most_every_n_minutes(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    storage = pipeline.resources["storage"]
    now = datetime.now(timezone.utc)
    hour = now.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    land(pipeline.warehouse, now)
    # Off (the default): the open hour waits until it closes.
    assert plan_arrivals(storage, now, None, live_minutes=0)[0] == []
    requests, cursor = plan_arrivals(storage, now, None, live_minutes=15)
    assert [r.run_key.split(":")[1] for r in requests] == [hour.date().isoformat()]
    assert pipeline.seal_days(hour.date()).success
    more = LocalFirehoseSink(str(pipeline.warehouse / "raw"), seed=12345)
    more.send([json.dumps({"n": "more traffic"})], now=now.timestamp())
    more.flush()
    seals = lambda requests: [r.run_key.split(":")[1] for r in requests if r.run_key.startswith("seal:")]  # noqa: E731
    # New objects, but the hour was sealed 5 minutes ago: wait. After 15 minutes: seal it again.
    requests, cursor = plan_arrivals(storage, now + timedelta(minutes=5), cursor, live_minutes=15)
    assert seals(requests) == []
    requests, _ = plan_arrivals(storage, now + timedelta(minutes=16), cursor, live_minutes=15)
    assert seals(requests) == [hour.date().isoformat()]


def test_the_sensor_keeps_its_cursor_across_restarts(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    land(pipeline.warehouse, datetime.now(timezone.utc) - timedelta(hours=3))
    context = dg.build_sensor_context(cursor=None, resources={"storage": pipeline.resources["storage"], "settings": PipelineSettings()})
    result = arrival_sensor(context)
    assert len(result) == 1 and result[0].run_key.startswith("seal:")
    saved = context.cursor
    restarted = dg.build_sensor_context(cursor=saved, resources={"storage": pipeline.resources["storage"], "settings": PipelineSettings()})
    again = arrival_sensor(restarted)
    assert [r.run_key for r in again] == [result[0].run_key]  # not yet sealed: asked again, same key (deduped)


# -- producer sensor and job ---------------------------------------------------------------------------------------

def test_the_producer_sensor_never_launches_two_slices_at_once(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    first = producer_sensor(dg.build_sensor_context(instance=instance, resources={"settings": PipelineSettings()}))
    assert isinstance(first, dg.RunRequest)
    config = first.run_config["ops"]["produce_slice"]["config"]
    instance.create_run_for_job(job_def=producer_job, run_config=first.run_config,
                                status=dg.DagsterRunStatus.STARTED)
    skipped = producer_sensor(dg.build_sensor_context(instance=instance, resources={"settings": PipelineSettings()}))
    assert isinstance(skipped, dg.SkipReason) and "still running" in skipped.skip_message
    for run in instance.get_runs():
        instance.report_run_canceled(run)
    after = producer_sensor(dg.build_sensor_context(instance=instance, cursor=str(config["seed_offset"]),
                                           resources={"settings": PipelineSettings()}))
    assert after.run_key != first.run_key
    assert after.run_config["ops"]["produce_slice"]["config"]["seed_offset"] > config["seed_offset"]


def test_a_producer_slice_lands_events_and_records_its_run(tmp_path):
    resources = build_resources("local", tmp_path / "w")
    result = producer_job.execute_in_process(
        run_config={"ops": {"produce_slice": {"config": {"rate": 400, "seconds": 1.5, "seed_offset": 7}}}},
        resources=resources,
    )
    assert result.success
    summary = result.output_for_node("produce_slice")
    assert summary["produced"] == 600 and summary["delivered"] == 600
    runs = read_producer_runs(resources["storage"])
    assert runs[-1]["produced"] == 600
    assert any((tmp_path / "w" / "raw" / "events").rglob("clickstream-events-1-*"))


# -- freshness mirrored to metrics ---------------------------------------------------------------------------------

def run_freshness(resources, instance):
    defs = build_definitions(resources)
    result = defs.get_job_def("freshness_checks").execute_in_process(instance=instance, raise_on_error=False)
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def test_freshness_publishes_the_lag_to_cloudwatch(moto, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    resources = build_resources("local", tmp_path / "w")
    resources["metrics"] = CloudWatchMetrics(endpoint_url=moto)
    instance = dg.DagsterInstance.ephemeral()
    # Old: raw data from days ago, materialized long ago (never, here) -> fails and publishes a large lag.
    pipeline = Pipeline(tmp_path / "w", instance)
    pipeline.produce(date(2026, 11, 2), 1, 300)
    assert pipeline.seal_days(date(2026, 11, 2)).success
    old = run_freshness(resources, instance)
    assert not old["raw/events"].passed
    cw = boto3.client("cloudwatch", endpoint_url=moto)
    now = datetime.now(timezone.utc)
    stats = cw.get_metric_statistics(Namespace="Clickstream", MetricName="FreshnessLagSeconds",
                                     Dimensions=[{"Name": "Asset", "Value": "raw/events"}],
                                     StartTime=now - timedelta(hours=1), EndTime=now + timedelta(hours=1),
                                     Period=3600, Statistics=["Maximum"])
    lag = stats["Datapoints"][0]["Maximum"]
    assert lag > (now - datetime(2026, 11, 3, tzinfo=timezone.utc)).total_seconds() - 60


def test_freshness_passes_for_new_data_and_lands_in_the_local_store(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    pipeline = Pipeline(tmp_path / "w", instance)
    # Seal the hour the object landed in, not the hour of "now": a minute ago may be the previous hour.
    landed = datetime.now(timezone.utc) - timedelta(minutes=1)
    land(pipeline.warehouse, landed)
    assert pipeline.seal_days(landed.date()).success
    checks = run_freshness(pipeline.resources, instance)
    assert checks["raw/events"].passed
    recent = LocalMetrics(warehouse=str(tmp_path / "w")).recent("FreshnessLagSeconds")
    raw = [p for p in recent if p.dimensions == {"Asset": "raw/events"}]
    assert raw and raw[0].value < 3600


# -- alarms --------------------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
BREACHING = {
    "clickstream-stale-data": [MetricPoint("FreshnessLagSeconds", 7 * 3600, "Seconds", {}, NOW)],
    "clickstream-delivery-failures": [MetricPoint("DeliveryFailed", 3, "Count", {}, NOW)],
    "clickstream-quarantine-rate": [MetricPoint("RowsQuarantined", 50, "Count", {}, NOW),
                                    MetricPoint("RecordsTaken", 1000, "Count", {}, NOW)],
    "clickstream-query-failures": [MetricPoint("QueryFailures", 1, "Count", {}, NOW)],
    "clickstream-no-data": [MetricPoint("RecordsLanded", 500, "Count", {}, NOW - timedelta(hours=5))],
}
QUIET = {
    "clickstream-stale-data": [MetricPoint("FreshnessLagSeconds", 600, "Seconds", {}, NOW)],
    "clickstream-delivery-failures": [MetricPoint("DeliveryFailed", 0, "Count", {}, NOW)],
    "clickstream-quarantine-rate": [MetricPoint("RowsQuarantined", 5, "Count", {}, NOW),
                                    MetricPoint("RecordsTaken", 1000, "Count", {}, NOW)],
    "clickstream-query-failures": [],
    "clickstream-no-data": [MetricPoint("RecordsLanded", 500, "Count", {}, NOW - timedelta(minutes=30))],
}


@pytest.mark.parametrize("alarm", ALARMS, ids=lambda a: a.name)
def test_every_alarm_fires_on_breaching_data_and_stays_quiet_otherwise(alarm):
    assert alarm.evaluate(BREACHING[alarm.name], NOW)[0] == "ALARM"
    assert alarm.evaluate(QUIET[alarm.name], NOW)[0] == "OK"
