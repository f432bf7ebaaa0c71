"""No clicks: new data flows from a closed arrival hour to the dashboard through the arrival sensor and declarative
automation alone, and a late record reaches the models of the day it belongs to, however old that day is."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pyarrow.parquet as pq

from clickstream_assets.cli.runs import run_assets
from clickstream_assets.defs.plan import RANGE_END_TAG, RANGE_START_TAG
from clickstream_assets.defs.raw.sensors import plan_arrivals
from resources.sinks import LocalFirehoseSink
from tests.pipeline import Pipeline

DAY = date(2026, 11, 5)
AFTER_THE_DAY = datetime(2026, 11, 6, 6, tzinfo=timezone.utc)


def run_sensor(pipeline: Pipeline, now: datetime, cursor: str | None) -> tuple[list[str], str]:
    """One arrival-sensor tick, its requests executed as the daemon would: returns the run keys."""
    requests, cursor = plan_arrivals(pipeline.resources["storage"], now, cursor)
    for request in requests:
        keys = [k.path for k in request.asset_selection]
        first = request.tags.get(RANGE_START_TAG, request.partition_key)
        last = request.tags.get(RANGE_END_TAG, request.partition_key)
        assert run_assets(pipeline.defs, pipeline.instance, keys, first, last).success
    return [r.run_key for r in requests], cursor


def run_automation(pipeline: Pipeline, cursor=None) -> tuple[list[str], object]:
    """Automation ticks until nothing more is requested, each request materialized: the assets it launched."""
    launched = []
    for _ in range(8):
        result = dg.evaluate_automation_conditions(defs=pipeline.defs, instance=pipeline.instance, cursor=cursor)
        cursor = result.cursor
        if not result.total_requested:
            return launched, cursor
        by_kind: dict[bool, dict] = {True: {}, False: {}}
        for key in pipeline.defs.resolve_all_asset_keys():
            partitions = result.get_requested_partitions(key)
            if partitions:
                by_kind[None not in partitions][key] = sorted(p for p in partitions if p)
        # Daily partitions first (they never depend on whole tables), then the whole tables over them.
        for partitioned, assets in sorted(by_kind.items(), reverse=True):
            if not assets:
                continue
            days = sorted({p for ps in assets.values() for p in ps})
            outcome = run_assets(pipeline.defs, pipeline.instance, [k.path for k in assets],
                                  days[0] if partitioned else None, days[-1] if partitioned else None)
            assert outcome.success and not outcome.blocking_failed, (outcome.error, outcome.blocking_failed)
            launched += [k.to_user_string() + (f"[{','.join(days)}]" if partitioned else "") for k in assets]
    raise AssertionError(f"automation kept requesting after 8 ticks: {launched}")


def dashboard_sessions(pipeline: Pipeline) -> int:
    html = (pipeline.warehouse / "dashboard" / "index.html").read_text()
    return int(re.search(r'data-kpi="sessions" data-value="([0-9]+)"', html).group(1))


def parquet_rows(pipeline: Pipeline, table: str, day: str) -> int:
    return pq.read_metadata(pipeline.parquet(table, day)).num_rows


def late_copy_of_a_session(pipeline: Pipeline, arrival: datetime) -> str:
    """A new event (fresh event_id, a session of its own) for DAY that arrives hours after the day was built."""
    raw = next((pipeline.warehouse / "raw" / "events" / "2026" / "11" / "05" / "12").iterdir())
    event = json.loads(raw.read_text().splitlines()[0])
    event.update(event_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()), timestamp="2026-11-05T23:30:00.000Z")
    sink = LocalFirehoseSink(str(pipeline.warehouse / "raw"), seed=99)
    sink.send([json.dumps(event, separators=(",", ":"))], now=arrival.timestamp())
    sink.flush()
    return event["event_id"]


def test_a_closed_hour_reaches_the_dashboard_and_a_late_record_its_old_day_with_no_clicks(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    sent = pipeline.produce(DAY, 1, 2_000, seed=3)

    # Nothing exists yet: automation has nothing to build from and waits.
    launched, auto_cursor = run_automation(pipeline)
    assert launched == []

    # The arrival sensor seals the closed hours, then builds the day their records belong to.
    sealed, cursor = run_sensor(pipeline, AFTER_THE_DAY, None)
    assert sealed and all(k.startswith("seal:") for k in sealed)
    built, cursor = run_sensor(pipeline, AFTER_THE_DAY, cursor)
    assert [k.split(":")[:2] for k in built] == [["new", DAY.isoformat()]]
    assert parquet_rows(pipeline, "events", DAY.isoformat()) == sent.produced

    # Automation takes it from there: catalog, models, datasets and the dashboard, in a few ticks.
    launched, auto_cursor = run_automation(pipeline, auto_cursor)
    assert f"processed/sessions[{DAY}]" in launched
    assert launched.count("quicksight/dashboard") == 1  # once, after all its inputs: never from stale models
    sessions = parquet_rows(pipeline, "sessions", DAY.isoformat())
    assert dashboard_sessions(pipeline) == sessions > 0
    # ... and stops: a second pass over unchanged data launches nothing.
    assert run_automation(pipeline, auto_cursor)[0] == []

    # Two days later a record for DAY arrives. The sensor seals its hour and rebuilds DAY (no longer the latest
    # day), and automation carries it to that day's models and the dashboard.
    arrival = AFTER_THE_DAY + timedelta(days=2)
    event_id = late_copy_of_a_session(pipeline, arrival)
    now = arrival + timedelta(hours=1, minutes=15)
    keys, cursor = run_sensor(pipeline, now, cursor)
    assert [k.split(":")[0] for k in keys] == ["seal"]
    keys, cursor = run_sensor(pipeline, now, cursor)
    assert [k.split(":")[:2] for k in keys] == [["late", DAY.isoformat()]]
    assert parquet_rows(pipeline, "events", DAY.isoformat()) == sent.produced + 1
    events = pq.read_table(pipeline.parquet("events", DAY.isoformat()), columns=["event_id"]).column(0).to_pylist()
    assert event_id in events

    launched, auto_cursor = run_automation(pipeline, auto_cursor)
    assert f"processed/sessions[{DAY}]" in launched
    assert launched.count("quicksight/dashboard") == 1
    assert parquet_rows(pipeline, "sessions", DAY.isoformat()) == sessions + 1
    assert dashboard_sessions(pipeline) == sessions + 1
