"""A shop's own events, not our simulator's: the original project's shape, other trackers' habits, its own page
names, Firehose's GZIP objects and bare prefix, months of history, and days with nothing clean in them."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from clickstream_assets.contract import classify_line
from clickstream_assets.history import import_history
from clickstream_assets.ledger import read_ledgers
from tests.pipeline import DAILY, PUBLISH, WHOLE, Pipeline
from tests.recompute import STEPS, funnel_totals, python_sessions
from tests.strangers import stranger_events

DAY = date(2026, 11, 3)


def build_all(pipeline: Pipeline, first: str, last: str):
    """Seal, build the days, rebuild whole tables, publish: what `clickstream backfill` runs."""
    outcomes = [pipeline.seal(date.fromisoformat(first), date.fromisoformat(last)),
                pipeline.build(first, last), pipeline.build(first, last, keys=DAILY),
                pipeline.build(None, None, keys=WHOLE), pipeline.build(None, None, keys=PUBLISH)]
    for outcome in outcomes:
        assert outcome.success, outcome.error
        assert not outcome.blocking_failed, outcome.blocking_failed
    return outcomes


def rows(pipeline: Pipeline, table: str, days: list[str]) -> list[dict]:
    return [dict(r, dt=d) for d in days for r in pq.read_table(pipeline.parquet(table, d)).to_pylist()]


def funnel_rows(pipeline: Pipeline, days: list[str]) -> dict[str, int]:
    got = Counter()
    for r in rows(pipeline, "funnel_daily", days):
        for column in ("sessions", *STEPS):
            got[column] += r[column]
    return dict(got)


def test_the_original_projects_events_are_all_clean_and_redeliveries_removed(tmp_path):
    sent = stranger_events(DAY, 1, 300, seed=3)
    pipeline = Pipeline(tmp_path / "w")
    landed = import_history(pipeline.resources["storage"], sent.lines)
    assert landed.lines == len(sent.lines) and landed.untimed_lines == 0

    build_all(pipeline, DAY.isoformat(), DAY.isoformat())

    ledger = read_ledgers(pipeline.resources["storage"])[DAY.isoformat()]
    assert (ledger.taken, ledger.clean, ledger.duplicates, ledger.quarantined) == (
        len(sent.lines), len(sent.records), sent.redelivered, 0)
    assert not any(key.count("//") for key in landed.acknowledged)
    clean = rows(pipeline, "events", [DAY.isoformat()])
    assert {r["schema_version"] for r in clean} == {0}
    assert len({r["event_id"] for r in clean}) == len(sent.records)
    # Every offset and zone-less stamp is the instant the tracker meant, in UTC.
    want = sorted(classify_line(json.dumps(r), datetime(2026, 11, 4, tzinfo=timezone.utc)).event_time.replace(
        tzinfo=None) for r in sent.records)
    assert sorted(r["event_ts"] for r in clean) == want

    expected = python_sessions(clean)
    funnel = funnel_rows(pipeline, [DAY.isoformat()])
    assert funnel == funnel_totals(expected.values())
    # The seed's page names drive the funnel: its `product` views and `checkout` pages are counted.
    product_views = sum(1 for r in sent.records if r["event_type"] == "view" and r["page"] == "product")
    assert product_views > 100 and funnel["product_view"] > 100 and funnel["checkout"] > 10 and funnel["purchase"] > 5


GERMAN_PAGES = {"home": "startseite", "category": "kategorie", "product": "artikel", "cart": "warenkorb",
                "checkout": "kasse"}


def test_a_shops_own_page_names_drive_the_funnel_sessions_and_flags(tmp_path, monkeypatch):
    sent = stranger_events(DAY, 1, 300, seed=4, redelivery_rate=0)
    for record in sent.records:
        record["page"] = f"/{GERMAN_PAGES[record['page']]}" + (f"/{record['product_id']}" if record["page"] == "product"
                                                                else "")
    lines = [json.dumps(r).encode() for r in sent.records]

    unconfigured = Pipeline(tmp_path / "default")
    import_history(unconfigured.resources["storage"], lines)
    build_all(unconfigured, DAY.isoformat(), DAY.isoformat())
    assert funnel_rows(unconfigured, [DAY.isoformat()])["product_view"] == 0  # our defaults do not know "artikel"

    config = {"page_classes": {"home": "^/startseite$", "category": "^/kategorie", "product": "^/artikel/",
                               "cart": "^/warenkorb$", "checkout": "^/kasse$"}}
    (tmp_path / "pages.json").write_text(json.dumps(config))
    monkeypatch.setenv("CLICKSTREAM_PAGES", str(tmp_path / "pages.json"))
    pipeline = Pipeline(tmp_path / "configured")
    import_history(pipeline.resources["storage"], lines)
    build_all(pipeline, DAY.isoformat(), DAY.isoformat())

    settings = pipeline.resources["settings"]
    clean = rows(pipeline, "events", [DAY.isoformat()])
    expected = python_sessions(clean, settings.page_classes, settings.funnel_steps)
    funnel = funnel_rows(pipeline, [DAY.isoformat()])
    assert funnel == funnel_totals(expected.values())
    assert funnel["product_view"] > 100 and funnel["checkout"] > 10
    sessions = {r["session_id"]: r for r in rows(pipeline, "sessions", [DAY.isoformat()])}
    assert Counter(s["landing_page_class"] for s in sessions.values()) == Counter(
        s["landing_page_class"] for s in expected.values()) == Counter({"home": len(expected)})
    assert sum(s["reached_checkout"] for s in sessions.values()) == funnel["checkout"]


def test_a_bad_page_pattern_is_refused_before_it_reaches_sql(tmp_path, monkeypatch):
    from clickstream_assets.settings import load_settings

    (tmp_path / "pages.json").write_text(json.dumps({"page_classes": {"product": "^(?!cart)"}}))
    monkeypatch.setenv("CLICKSTREAM_PAGES", str(tmp_path / "pages.json"))
    with pytest.raises(ValueError, match="look-arounds"):
        load_settings()
    (tmp_path / "pages.json").write_text(json.dumps({"page_classes": {"produkt": "^/p/"}}))
    with pytest.raises(ValueError, match="unknown page classes"):
        load_settings()


def test_gzip_objects_under_firehoses_bare_prefix_are_read_like_any_other(tmp_path, monkeypatch):
    monkeypatch.setenv("CLICKSTREAM_RAW_PREFIX", "")
    pipeline = Pipeline(tmp_path / "w")
    sent = stranger_events(DAY, 1, 120, seed=5, redelivery_rate=0)
    by_hour: dict[str, list[bytes]] = {}
    for line in sent.lines:
        hour = classify_line(line, datetime(2026, 11, 4, tzinfo=timezone.utc)).event_time
        by_hour.setdefault(f"{hour:%Y/%m/%d/%H}", []).append(line)
    raw = pipeline.warehouse / "raw"
    for folder, lines in by_hour.items():
        stamp = folder.replace("/", "-")
        path = raw / folder / f"clickstream-events-1-{stamp}-59-00-0a0b0c0d-1111-4222-8333-{len(lines):012d}.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    (raw / "errors" / "2026" / "11" / "03" / "10").mkdir(parents=True)  # Firehose's error folder beside the hours
    (raw / "errors" / "2026" / "11" / "03" / "10" / "failed-1").write_bytes(b"not an event\n")

    build_all(pipeline, DAY.isoformat(), DAY.isoformat())

    ledger = read_ledgers(pipeline.resources["storage"])[DAY.isoformat()]
    assert (ledger.taken, ledger.clean, ledger.quarantined) == (len(sent.records), len(sent.records), 0)


def test_a_day_with_nothing_clean_passes_its_checks_and_says_it_is_empty(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    junk = [b"{not json", b'{"user_id": "u1"}', json.dumps({"event_type": "view"}).encode()] * 20
    for i, line in enumerate(junk):  # an untimed first line lands in the hour of the next timed one
        junk[i] = line
    timed = json.dumps({**stranger_events(DAY, 1, 1, seed=6).records[0], "device_type": "fridge"}).encode()
    landed = import_history(pipeline.resources["storage"], [timed, *junk])
    assert landed.untimed_lines == len(junk)

    outcomes = build_all(pipeline, DAY.isoformat(), DAY.isoformat())

    ledger = read_ledgers(pipeline.resources["storage"])[DAY.isoformat()]
    assert (ledger.clean, ledger.quarantined) == (0, len(junk) + 1)
    assert ledger.reasons == {"malformed_json": 20, "missing_field": 40, "bad_value": 1}
    checks = {k: v for o in outcomes for k, v in o.checks.items()}
    for name in ("processed/funnel_daily:funnel_monotone", "processed/traffic_sources_daily:traffic_covers_sessions",
                 "processed/user_engagement_daily:engagement_rates_valid"):
        assert checks[name], name
    html = (pipeline.warehouse / "dashboard" / "index.html").read_text()
    # The page adds up the funnel's rows itself: built (no "not built yet"), and no session to count.
    assert '"funnel":{"built":true,' in html and 'data-kpi="sessions"' in html


def test_six_months_of_history_in_two_commands(tmp_path):
    """`clickstream ingest` then `clickstream backfill`, as a user types them, over half a year of the seed's shape."""
    sent = stranger_events(date(2026, 5, 1), 180, 45, seed=8)
    source = tmp_path / "history.jsonl.gz"
    source.write_bytes(gzip.compress(b"\n".join(sent.lines) + b"\n"))
    # The Dagster instance's SQLite commits once per event (4,344 hourly partitions, several events each): kept in
    # memory where the machine offers it, which only spares the test the fsyncs.
    scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() and os.access("/dev/shm", os.W_OK) else tmp_path
    dagster_home = Path(tempfile.mkdtemp(dir=scratch, prefix="clickstream-six-months-"))
    env = {**os.environ, "CLICKSTREAM_HOME": str(tmp_path / "w"), "DAGSTER_HOME": str(dagster_home)}
    env.pop("CLICKSTREAM_START_DATE", None)
    cli = [sys.executable, "-m", "clickstream_assets.cli"]

    ingested = subprocess.run([*cli, "ingest", str(source)], env=env, capture_output=True, text=True, timeout=300)
    assert ingested.returncode == 0, ingested.stderr
    assert "clickstream backfill --start 2026-05-01 --end 2026-10-27" in ingested.stdout
    backfill = subprocess.run([*cli, "backfill", "--start", "2026-05-01", "--end", "2026-10-27"], env=env,
                              capture_output=True, text=True, timeout=2400)
    shutil.rmtree(dagster_home, ignore_errors=True)
    assert backfill.returncode == 0, backfill.stdout[-3000:] + backfill.stderr[-3000:]

    pipeline_dir = Path(env["CLICKSTREAM_HOME"])
    from resources.storage import LocalStorage

    ledgers = read_ledgers(LocalStorage(warehouse=str(pipeline_dir)))
    assert len(ledgers) >= 180
    assert sum(d.clean for d in ledgers.values()) == len(sent.records)
    assert sum(d.duplicates for d in ledgers.values()) == sent.redelivered
    assert sum(d.quarantined for d in ledgers.values()) == 0
    from clickstream_assets.defs.processed.completeness import read_report

    report = read_report(LocalStorage(warehouse=str(pipeline_dir)))
    assert report["gaps"] == [] and report["totals"]["landed"] == len(sent.lines)

    days = sorted(d for d, ledger in ledgers.items() if ledger.clean)
    events = [r for d in days for r in pq.read_table(
        pipeline_dir / "processed" / "events" / f"dt={d}" / "part-0.parquet").to_pylist()]
    expected = python_sessions(events)
    sessions = [r for d in days for r in pq.read_table(
        pipeline_dir / "processed" / "sessions" / f"dt={d}" / "part-0.parquet").to_pylist()]
    assert len(sessions) == len(expected) == len({r["session_id"] for r in sent.records})
    funnel = Counter()
    for d in days:
        for r in pq.read_table(pipeline_dir / "processed" / "funnel_daily" / f"dt={d}" / "part-0.parquet").to_pylist():
            for column in ("sessions", *STEPS):
                funnel[column] += r[column]
    assert dict(funnel) == funnel_totals(expected.values())
    print(f"six months: {len(sent.lines):,} lines, {len(sent.records):,} events, {sent.redelivered:,} redelivered, "
          f"{len(sessions):,} sessions, funnel {dict(funnel)}")


def test_ingest_via_the_stream_delivers_lines_as_live_data_arriving_now(tmp_path):
    from clickstream_assets.cli.commands import main
    from tests.pipeline import arrival_of, raw_lines

    sent = stranger_events(DAY, 1, 20, seed=9, redelivery_rate=0)
    source = tmp_path / "tail.jsonl"
    source.write_bytes(b"\n".join(sent.lines) + b"\n")
    before = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)

    assert main(["ingest", str(source), "--via-stream", "--warehouse", str(tmp_path / "w"), "--json"]) == 0

    landed = raw_lines(tmp_path / "w")
    assert sorted(line for _, line in landed) == sorted(sent.lines)
    assert all(arrival_of(str(path)) >= before for path, _ in landed)  # arrival is now, not the events' time
