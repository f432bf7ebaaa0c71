"""Athena writes on the aws profile, through the Athena test engine over HTTP: one UNLOAD per model for a 28-day
backfill, the range scanned once, partitions switched whole (a reader never sees one empty), failures and stray
rows leave the old version in place."""

from __future__ import annotations

import gzip
import threading
from datetime import date, datetime, timedelta, timezone

import boto3
import pytest

from clickstream_assets.contract import classify_line
from clickstream_assets.defs.processed.events import build_days
from clickstream_assets.ledger import read_ledgers
from clickstream_assets.partitions import hour_of
from clickstream_assets.producer.runner import produce_historical
from clickstream_assets.sealing import seal_hours
from clickstream_assets.settings import PipelineSettings
from resources.athena import AthenaQueryError
from resources.profile import build_resources
from resources.sinks import FirehoseSink
from tests.strangers import stranger_events

DAYS = 28


@pytest.fixture
def history(aws, athena):
    """28 days of events sent through Firehose, sealed and built into clean events by Athena."""
    moto, names = aws
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=DAYS)
    sent = produce_historical(FirehoseSink(boto3.client("firehose", endpoint_url=moto), names["stream"]),
                              start, DAYS, 120, seed=4)
    resources = build_resources("aws")
    storage, engine = resources["storage"], resources["engine"]
    settings = PipelineSettings()
    now = datetime.now(timezone.utc)
    hours = [hour_of(now - timedelta(hours=h)) for h in (1, 0)]
    seal_hours(storage, engine, hours, start.isoformat())
    days = [(start + timedelta(days=d)).isoformat() for d in range(DAYS)]
    build_days(storage, engine, settings, days)
    return sent, resources, days


def sessions_rows(engine, storage, days) -> dict[str, int]:
    """Rows of each sessions partition as a reader finds them: the catalog's location, the files there."""
    import pyarrow.parquet as pq

    found = {}
    for day, files in engine.data_files("sessions", days).items():
        found[day] = 0
        for path in files:
            with storage.filesystem().open_input_file(path) as handle:
                found[day] += pq.read_metadata(handle).num_rows
    return found


def test_a_backfill_is_one_unload_per_model_scanning_the_range_once(history, athena):
    sent, resources, days = history
    engine, storage = resources["engine"], resources["storage"]
    ledgers = read_ledgers(storage)
    assert sum(d.clean for d in ledgers.values()) == sent.produced and all(d.reconciles for d in ledgers.values())
    events_unloads = [e for e in athena.twin.log if e.unload and "/events/v-" in e.sql]
    assert len(events_unloads) == 1  # 28 days of clean events in one statement

    athena.twin.log.clear()
    params = {"first_day": days[0], "last_day": days[-1], **PipelineSettings().page_params()}
    written = engine.materialize("models/sessions.sql", params, "sessions", days)
    unloads = [e for e in athena.twin.log if e.unload]
    assert len(unloads) == 1 and written.stats.queries == 1
    events_bytes = sum(size for files in engine.data_files("events", days).values()
                       for size in (storage.filesystem().get_file_info(f).size for f in files))
    assert unloads[0].bytes_scanned == events_bytes  # each event file read once, not once per day
    assert written.rows == sum(sessions_rows(engine, storage, days).values()) > DAYS * 10
    print(f"\n28-day sessions backfill on Athena: {len(unloads)} UNLOAD, {unloads[0].bytes_scanned:,} bytes scanned "
          f"(clean events of the range: {events_bytes:,} bytes), {written.rows:,} sessions")


def test_a_reader_never_sees_a_partition_empty_during_a_rebuild(history, athena):
    _, resources, days = history
    engine, storage = resources["engine"], resources["storage"]
    params = {"first_day": days[0], "last_day": days[-1], **PipelineSettings().page_params()}
    engine.materialize("models/sessions.sql", params, "sessions", days)
    before = sessions_rows(engine, storage, days)
    old_locations = resources["catalog"].locations("sessions", days)

    athena.twin.delay_seconds = 0.5  # the UNLOAD takes a while: long enough to be watched
    rebuild = threading.Thread(target=engine.materialize, args=("models/sessions.sql", params, "sessions", days))
    rebuild.start()
    seen = []
    while rebuild.is_alive():
        seen.append(sessions_rows(engine, storage, days))
    rebuild.join()
    assert len(seen) >= 3 and all(s == before for s in seen)  # old version or new one, each whole
    new_locations = resources["catalog"].locations("sessions", days)
    assert set(new_locations.values()).isdisjoint(old_locations.values())
    assert sessions_rows(engine, storage, days) == before
    # The replaced version stays for queries that planned on it; the next write deletes it.
    assert all(storage.list_uri(location) for location in old_locations.values() if before[location[-10:]])
    engine.materialize("models/sessions.sql", params, "sessions", days)
    assert not any(storage.list_uri(location) for location in old_locations.values())


def test_a_failed_or_refused_write_leaves_the_old_version(history, athena):
    _, resources, days = history
    engine, storage, catalog = resources["engine"], resources["storage"], resources["catalog"]
    params = {"first_day": days[0], "last_day": days[-1], **PipelineSettings().page_params()}
    engine.materialize("models/sessions.sql", params, "sessions", days)
    before, locations = sessions_rows(engine, storage, days), catalog.locations("sessions", days)
    table_root = engine.table_def("sessions").location.rstrip("/")
    versions = {o.key.split("/")[1] for o in storage.list_uri(table_root)}

    # Rows for days not being written: refused after the UNLOAD, the new prefix removed, the old one serving.
    with pytest.raises(RuntimeError, match="outside the ones being written"):
        engine.materialize("models/sessions.sql", params, "sessions", days[:5])
    # Athena failing mid-statement (after writing some files): the same.
    athena.twin.fail_after_files = 1
    with pytest.raises(AthenaQueryError, match="injected"):
        engine.materialize("models/sessions.sql", params, "sessions", days)
    assert sessions_rows(engine, storage, days) == before
    assert catalog.locations("sessions", days) == locations
    assert {o.key.split("/")[1] for o in storage.list_uri(table_root)} == versions


def test_sealing_on_athena_classifies_strangers_gzip_objects_as_the_local_profile_does(aws, athena, tmp_path,
                                                                                       monkeypatch):
    """Seed-shaped events and bad lines in GZIP objects under Firehose's bare prefix: Athena (reading the objects
    where they lie) and the local profile (splitting them in memory) stage the same verdicts."""
    moto, names = aws
    monkeypatch.setenv("CLICKSTREAM_RAW_PREFIX", "")
    day = date(2026, 11, 3)
    sent = stranger_events(day, 1, 60, seed=8, redelivery_rate=0.05)
    bad = [b'{"truncated": ', b"\xff\xfe not utf-8", b'{"event_type": "teleport"}', b"[1, 2]"]
    by_hour: dict[str, list[bytes]] = {}
    for line in sent.lines:
        hour = classify_line(line, datetime(2026, 11, 4, tzinfo=timezone.utc)).event_time
        by_hour.setdefault(f"{hour:%Y/%m/%d/%H}", []).append(line)
    first = min(by_hour)
    by_hour[first] += bad
    s3 = boto3.client("s3", endpoint_url=moto)
    local_raw = tmp_path / "local" / "raw"
    for n, (folder, lines) in enumerate(sorted(by_hour.items())):
        stamp = folder.replace("/", "-")
        name = f"{folder}/clickstream-events-1-{stamp}-59-00-0a0b0c0d-1111-4222-8333-{n:012d}"
        body, name = (gzip.compress(b"\n".join(lines) + b"\n"), name + ".gz") if n % 2 else (
            b"\n".join(lines) + b"\n", name)
        s3.put_object(Bucket=names["raw_bucket"], Key=name, Body=body)
        (local_raw / name).parent.mkdir(parents=True, exist_ok=True)
        (local_raw / name).write_bytes(body)
    hours = sorted(f.replace("/", "-") for f in by_hour)

    sealed = {}
    for profile, warehouse in (("aws", None), ("local", tmp_path / "local")):
        resources = build_resources(profile, warehouse)
        result = seal_hours(resources["storage"], resources["engine"], hours, "2026-11-01")
        sealed[profile] = {m.arrival_hour: (m.records, m.by_day, m.reasons, [o["key"] for o in m.objects])
                           for m in result.manifests}
        staged, _ = resources["engine"].query("transform/object_counts.sql", {},
                                              partitions={"staged_events": hours})
        sealed[profile + " objects"] = staged.to_pylist()
    assert sealed["aws"] == sealed["local"]
    assert sealed["aws objects"] == sealed["local objects"]
    reasons = {r: n for _, _, by_reason, _ in sealed["aws"].values() for r, n in by_reason.items()}
    assert sum(reasons.values()) == len(bad) and sum(m[0] for m in sealed["aws"].values()) == len(sent.lines) + 4
    assert [e for e in athena.twin.log if e.unload and "/staged_events/v-" in e.sql]
