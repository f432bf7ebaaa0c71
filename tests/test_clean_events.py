"""Raw hours sealed, clean events and quarantine built through the real Definitions on a real instance."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timezone

import pyarrow.parquet as pq
import pytest

from clickstream_assets.contract import FIELDS
from clickstream_assets.ledger import read_ledgers, read_manifests, stale_days
from clickstream_assets.producer.simulator import Mess
from resources.catalog import load_ddl
from resources.sql import check_params
from tests.pipeline import Pipeline, hold_back, land, raw_lines

START = date(2026, 11, 2)
MESS = Mess(duplicate_rate=0.02, malformed_rate=0.01, late_rate=0.02, future_rate=0.005)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pipeline = Pipeline(tmp_path_factory.mktemp("warehouse"))
    summary = pipeline.produce(START, 3, 4_000, mess=MESS)
    sealed = pipeline.seal(START, date(2026, 11, 4))
    # The day after too: records arriving after midnight (late, or with bad timestamps) belong to it.
    days = pipeline.build("2026-11-02", "2026-11-05")
    return pipeline, summary, sealed, days


def rows(pipeline, table, days):
    return [r for d in days for r in pq.read_table(pipeline.parquet(table, d)).to_pylist()]


def test_a_four_day_backfill_is_one_run_and_every_blocking_check_passes(built):
    pipeline, _, sealed, days = built
    assert sealed.success and days.success, (sealed.error, days.error)
    assert days.blocking_failed == []
    assert all(days.checks.values()), days.checks
    runs = [r for r in pipeline.instance.get_runs() if r.tags.get("clickstream/step") == "days"]
    assert len(runs) == 1
    partitions = pipeline.instance.get_materialized_partitions(
        __import__("dagster").AssetKey(["processed", "events"])
    )
    assert partitions == {"2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"}


def test_quarantine_holds_exactly_the_injected_mess_with_the_right_reasons(built):
    pipeline, summary, _, _ = built
    quarantined = rows(pipeline, "quarantine", pipeline.days(START, 4))
    by_reason = Counter(r["reason"] for r in quarantined)
    expected = {k: v for k, v in summary.injected_malformed.items() if v}
    expected["future_timestamp"] = summary.injected_future
    assert dict(by_reason) == expected
    assert all(r["raw_line"] and r["source_object"].startswith("events/2026/11/") for r in quarantined)


def test_duplicates_are_removed_exactly_and_every_event_is_kept_once(built):
    pipeline, summary, _, _ = built
    clean = rows(pipeline, "events", pipeline.days(START, 4))
    ids = [r["event_id"] for r in clean]
    assert len(ids) == len(set(ids))
    ledgers = read_ledgers(pipeline.resources["storage"])
    assert sum(d.duplicates for d in ledgers.values()) == summary.injected_duplicates
    # The producer's events that fall on these three days, each exactly once.
    assert len(clean) == summary.produced
    for ledger in ledgers.values():
        assert ledger.taken == ledger.clean + ledger.duplicates + ledger.quarantined


def test_of_an_event_sent_twice_the_clean_row_is_its_earliest_copy(built):
    """Firehose's redeliveries arrive later, in other objects: the day keeps the copy that arrived first (by time,
    then object, then line), whichever order the hours were staged in."""
    pipeline, _, _, _ = built
    staged = [r for p in sorted((pipeline.warehouse / "processed" / "staged_events").glob("*/part-0.parquet"))
              for r in pq.read_table(p).to_pylist() if r["reason"] is None]
    copies: dict[str, list] = {}
    for r in staged:
        copies.setdefault(r["event_id"], []).append((r["arrival_ts"], r["source_object"], r["line_number"]))
    repeated = {event_id: min(c)[:2] for event_id, c in copies.items() if len(c) > 1}
    assert len({c[1] for event_id in repeated for c in copies[event_id]}) > 1  # copies in different objects
    clean = {r["event_id"]: (r["arrival_ts"], r["source_object"])
             for r in rows(pipeline, "events", pipeline.days(START, 4)) if r["event_id"] in repeated}
    assert clean == repeated and len(repeated) > 10


def test_object_keys_sort_as_text_whatever_order_the_files_hold_them_in(tmp_path):
    """The local engine carries an object's key as an ENUM where a statement names it (a day's sort then moves a
    small integer, not ~100 bytes a line): ordering by it must still be the text's. The hour's staged rows are
    turned around, so keys listed in the order they were first met would come out backwards."""
    import pyarrow as pa

    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(START, 1, 3_000)
    hour = "2026-11-02-12"
    pipeline.seal(START, START)
    staged = pipeline.warehouse / "processed" / "staged_events" / f"arrival_hour={hour}" / "part-0.parquet"
    table = pq.read_table(staged)
    pq.write_table(table.take(pa.array(range(table.num_rows - 1, -1, -1))), staged)
    counts, _ = pipeline.resources["engine"].query("transform/object_counts.sql", {}, partitions={"staged_events": [hour]})
    keys = counts.column("source_object").to_pylist()
    assert keys == sorted(keys) and len(keys) > 5
    assert sum(counts.column("records").to_pylist()) == table.num_rows


def test_sealing_hours_again_writes_the_same_bytes_and_the_manifests_count_what_was_staged(tmp_path):
    """The seal writes an arrival day's hours side by side and counts its manifests from the rows before they are
    written: a second seal gives the same files, byte for byte, and the counts match the staged files read back."""
    from clickstream_assets.sealing import HOUR_COUNTS, seal_hours

    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(START, 1, 3_000, mess=MESS)
    storage, engine = pipeline.resources["storage"], pipeline.resources["engine"]
    hours = [f"2026-11-02-{h:02d}" for h in range(24)]
    staged = pipeline.warehouse / "processed" / "staged_events"

    def files() -> dict[str, bytes]:
        return {p.parent.name: p.read_bytes() for p in sorted(staged.glob("*/part-0.parquet"))}

    first = seal_hours(storage, engine, hours, "2026-11-01")
    before = files()
    again = seal_hours(storage, engine, hours, "2026-11-01")
    assert files() == before and len(before) == 24
    assert [(m.by_day, m.reasons) for m in again.manifests] == [(m.by_day, m.reasons) for m in first.manifests]
    counts, _ = engine.query(HOUR_COUNTS, {}, partitions={"staged_events": hours})
    read_back: dict[str, dict[str, int]] = {}
    for row in counts.to_pylist():
        by_day = read_back.setdefault(row["arrival_hour"], {})
        by_day[row["route_dt"].isoformat()] = by_day.get(row["route_dt"].isoformat(), 0) + row["records"]
    assert {m.arrival_hour: m.by_day for m in again.manifests if m.by_day} == read_back
    assert sum(m.reasons.get("malformed_json", 0) for m in again.manifests) > 0


@pytest.mark.parametrize("own_chunk_bytes", [1, "median", 10**12])
def test_staged_lines_keep_their_object_and_line_however_the_objects_are_chunked(tmp_path, monkeypatch,
                                                                                 own_chunk_bytes):
    """Large objects are handed to the engine as they were split, small ones joined: the staged rows (object, line
    number, verdict, order) are the same bytes whether every object is its own chunk, some are, or all are joined."""
    from clickstream_assets import sealing

    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(START, 1, 2_000, mess=MESS)
    storage, engine = pipeline.resources["storage"], pipeline.resources["engine"]
    hours = [f"2026-11-02-{h:02d}" for h in range(24)]
    sizes = sorted(o.size for o in sealing.raw_objects(storage))
    staged = pipeline.warehouse / "processed" / "staged_events"

    def seal(threshold: int) -> dict[str, bytes]:
        monkeypatch.setattr(sealing, "OWN_CHUNK_BYTES", threshold)
        sealing.seal_hours(storage, engine, hours, "2026-11-01")
        return {p.parent.name: p.read_bytes() for p in sorted(staged.glob("*/part-0.parquet"))}

    joined = seal(10**12)
    chunked = seal(sizes[len(sizes) // 2] if own_chunk_bytes == "median" else own_chunk_bytes)
    assert chunked == joined and len(joined) == 24 and len(sizes) > 24
    lines = pq.read_table(staged, columns=["source_object", "line_number"]).to_pylist()
    assert len(lines) == len(set(map(tuple, map(dict.values, lines)))) == len(
        [line for path, line in raw_lines(pipeline.warehouse) if "/2026/11/02/" in str(path)])


@pytest.mark.parametrize("listed", [0, 3, 10, 11, 50])
def test_an_object_is_read_whole_whatever_size_its_listing_gave(tmp_path, listed):
    """The seal reads each object in one call of the size it was listed with; an object that grew or shrank since
    is still read as it is now, never cut to the listed size."""
    from resources.profile import build_resources

    storage = build_resources("local", tmp_path / "w")["storage"]
    storage.write_bytes("raw", "events/2026/11/02/12/object", b'{"a":1}\n{"b"}\n')
    assert storage.read_buffer("raw", "events/2026/11/02/12/object", listed).to_pybytes() == b'{"a":1}\n{"b"}\n'


def test_clean_parquet_has_the_ddl_columns_and_types(built):
    pipeline, _, _, _ = built
    table = load_ddl("events", {"raw": "file:///r", "processed": "file:///p"})
    schema = pq.read_schema(pipeline.parquet("events", "2026-11-03"))
    assert schema.names == [c.name for c in table.columns]
    assert str(schema.field("event_ts").type) == "timestamp[us]"
    assert {f for f in FIELDS if f != "timestamp"} <= set(schema.names)


def test_rerunning_a_day_three_times_changes_nothing(built):
    pipeline, _, _, _ = built
    before = (pipeline.digest("events", "2026-11-03"), pipeline.digest("quarantine", "2026-11-03"))
    for _ in range(3):
        assert pipeline.build("2026-11-03").success
        assert (pipeline.digest("events", "2026-11-03"), pipeline.digest("quarantine", "2026-11-03")) == before


def test_seal_manifests_name_every_object_and_count_every_line(built):
    pipeline, summary, _, _ = built
    manifests = read_manifests(pipeline.resources["storage"])
    assert sum(m.records for m in manifests.values()) == summary.records_sent
    assert sum(len(m.objects) for m in manifests.values()) == summary.objects
    assert sum(m.unparsed for m in manifests.values()) == summary.injected_malformed["malformed_json"]
    empty = [m for m in manifests.values() if m.empty]
    assert all(m.records == 0 and not m.by_day for m in empty)


def test_late_records_mark_their_day_stale_and_a_rebuild_takes_them_in(tmp_path):
    pipeline = Pipeline(tmp_path / "warehouse")
    summary = pipeline.produce(START, 1, 3_000, mess=Mess(late_rate=0.2))
    # What arrives from 03:00 the next day on comes after the build: late records for a day already built.
    deliver_later = hold_back(pipeline.warehouse, datetime(2026, 11, 3, 3))
    assert pipeline.seal_days(date(2026, 11, 2), date(2026, 11, 3)).success
    first = pipeline.build("2026-11-02")
    assert first.success
    early = pq.read_metadata(pipeline.parquet("events", "2026-11-02")).num_rows
    deliver_later()
    assert pipeline.seal_days(date(2026, 11, 3)).success
    storage = pipeline.resources["storage"]
    assert "2026-11-02" in stale_days(storage)
    second = pipeline.build("2026-11-02")
    assert second.success and second.checks["processed/events:late_records_pending"]
    full = pq.read_metadata(pipeline.parquet("events", "2026-11-02")).num_rows
    produced_on_day = {
        json.loads(line)["event_id"] for obj, line in raw_lines(pipeline.warehouse)
        if json.loads(line)["timestamp"].startswith("2026-11-02")
    }
    assert early < full == len(produced_on_day)
    assert read_ledgers(storage)["2026-11-02"].late > 0 and summary.injected_late > 0


def test_sealing_a_day_again_restages_only_the_hours_that_changed(tmp_path):
    from clickstream_assets.sealing import arrival_hour_of, raw_objects, seal_days

    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(START, 1, 2_000)
    storage, engine = pipeline.resources["storage"], pipeline.resources["engine"]
    with_objects = {h for o in raw_objects(storage) if (h := arrival_hour_of(storage, o.key)).startswith("2026-11-02")}
    first = seal_days(storage, engine, ["2026-11-02"], "2026-11-01")
    # Only hours that hold objects are sealed; the day's other hours cost nothing.
    assert {m.arrival_hour for m in first.manifests} == with_objects and first.unchanged == []
    records = sum(m.records for m in first.manifests)
    staged = {p.name: p.stat().st_mtime_ns for p in (pipeline.warehouse / "processed").rglob("*.parquet")}
    again = seal_days(storage, engine, ["2026-11-02"], "2026-11-01")
    assert again.manifests == [] and set(again.unchanged) == with_objects
    assert {p.name: p.stat().st_mtime_ns for p in (pipeline.warehouse / "processed").rglob("*.parquet")} == staged
    land(pipeline.warehouse, datetime(2026, 11, 2, 14, 30, tzinfo=timezone.utc))
    late = seal_days(storage, engine, ["2026-11-02"], "2026-11-01")
    assert [m.arrival_hour for m in late.manifests] == ["2026-11-02-14"]
    assert sum(m.records for m in read_manifests(storage).values()) == records + 3
    # Other classification rules: every hour of the day is re-staged under them.
    stricter = seal_days(storage, engine, ["2026-11-02"], "2026-11-01", max_event_age_days=7)
    assert {m.arrival_hour for m in stricter.manifests} == with_objects | {"2026-11-02-14"}


@pytest.mark.parametrize("bad", ["2026-11-02'; DROP TABLE events; --", "2026-13-45", "1 OR 1=1", ""])
def test_partition_values_are_validated_before_they_reach_sql(bad):
    with pytest.raises(ValueError):
        check_params({"first_day": bad})


def test_the_quarantine_rate_judges_only_days_with_enough_records():
    from clickstream_assets.defs.processed.checks import quarantine_rate
    from clickstream_assets.ledger import DayLedger

    def day(dt, taken, quarantined):
        return DayLedger(dt, "now", {}, taken, taken - quarantined, 0, quarantined, 0)

    assert quarantine_rate([day("2026-11-02", 50_000, 250), day("2026-11-03", 40, 10)], 0.02).passed
    failing = quarantine_rate([day("2026-11-02", 50_000, 2_000)], 0.02)
    assert not failing.passed and failing.metadata["days_over"].value == "2026-11-02"


def test_a_history_of_many_small_objects_seals_within_the_engines_memory(tmp_path):
    """A small shop's half-year is tens of thousands of small objects. Handed one Arrow batch per object, DuckDB
    gave each its own string blocks and ran out of memory (it did at 36,636 objects under 1 GB); here ~3,400 objects
    under a 64 MB limit."""
    from clickstream_assets.sealing import seal_hours
    from resources.engine import DuckDBEngine
    from resources.profile import build_resources
    from tests.strangers import stranger_events

    warehouse = tmp_path / "w"
    sent = stranger_events(date(2026, 11, 2), 1, 1_000, seed=3, redelivery_rate=0)
    per_object = 1
    for n in range(0, len(sent.lines), per_object):
        hour = n * 24 // len(sent.lines)
        folder = warehouse / "raw" / "events" / "2026" / "11" / "02" / f"{hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"clickstream-events-1-2026-11-02-{hour:02d}-59-00-0a0b0c0d-1111-4222-8333-{n:012d}"
        (folder / name).write_bytes(b"\n".join(sent.lines[n : n + per_object]) + b"\n")
    resources = build_resources("local", warehouse)
    engine = DuckDBEngine(storage=resources["storage"], catalog=resources["catalog"], memory_limit="64MB")
    hours = [f"2026-11-02-{h:02d}" for h in range(24)]
    result = seal_hours(resources["storage"], engine, hours, "2026-11-01")
    assert sum(len(m.objects) for m in result.manifests) == len(sent.lines) > 3_000
    assert sum(m.records for m in result.manifests) == len(sent.lines)
