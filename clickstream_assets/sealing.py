"""Sealing arrival days, hour by hour: take exactly the objects an hour holds, classify every line once, write the
hour's manifest. A day sealed again re-stages only the hours whose objects (or classification) changed since their
manifest; hours that never held an object cost one listing entry, nothing more.

Locally, lines are split by pyarrow (exact newline semantics, line numbers for free, no CSV quoting rules), then
``sql/transform/stage_raw.sql`` classifies them; hours are processed in chunks of bounded raw bytes so memory
stays flat however many hours a backfill covers. On Athena the same SQL reads the objects where they lie, through
the ``raw_text`` table (``sql/views/raw_lines.sql`` shapes its rows as the SQL expects).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clickstream_assets.ledger import SealManifest, now_iso, read_manifests, write_manifests
from clickstream_assets.partitions import hours_of_day
from resources.catalog import check_partition_value
from resources.engine import Engine, QueryStats, WriteResult
from resources.sql import load_sql
from resources.storage import ObjectInfo, Storage

CHUNK_BYTES = 64 * 1024 * 1024
FIRST_CHUNK_BYTES = 16 * 1024 * 1024
# Chunks classified and written at once, each on its own engine connection with its share of the engine's threads:
# on two cores, two chunks side by side already fill both, and giving each statement both threads (four contending
# for two cores) cost a 1M-event seal ~0.5 CPU-s more. Chunks of 64 MB, not 128, keep both busy until the last one.
SEALING_CHUNKS = 2
HOUR_COUNTS = "transform/hour_counts.sql"
# Lines per Arrow batch handed to the engine: enough batches per chunk to keep every engine thread busy.
LINES_PER_BATCH = 32_768
# An object's lines this large are handed to the engine as they were split; smaller objects' are joined (_line_chunks).
OWN_CHUNK_BYTES = 1024 * 1024
OBJECT_TIME = re.compile(r"-1-([0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2})-[^/]*$")

LINES_SCHEMA = pa.schema(
    [
        ("source_object", pa.dictionary(pa.int32(), pa.string())),
        ("line_number", pa.int64()),
        ("line", pa.large_string()),
        ("arrival_hour", pa.dictionary(pa.int32(), pa.string())),
        ("arrival_ts", pa.timestamp("us")),
    ]
)


# Firehose with CompressionFormat GZIP names its objects like the others, plus ``.gz``.
GZIP_SUFFIX = ".gz"


def hour_prefix(storage: Storage, arrival_hour: str) -> str:
    y, m, d, h = check_partition_value(arrival_hour).split("-")
    return storage.raw_key(f"{y}/{m}/{d}/{h}/")


HOUR_LAYOUT = re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})/([0-9]{2})/[^/]+")


def arrival_hour_of(storage: Storage, key: str) -> str | None:
    """``2026-11-02-10`` for a key in Firehose's ``<prefix>/YYYY/MM/DD/HH/<object>`` layout, else None."""
    prefix = storage.raw_key()
    if prefix and not key.startswith(prefix.rstrip("/") + "/"):
        return None
    match = HOUR_LAYOUT.fullmatch(key[len(prefix):].lstrip("/") if prefix else key)
    return "-".join(match.groups()) if match else None


def raw_objects(storage: Storage) -> list[ObjectInfo]:
    """Every delivered object under the raw prefix, oldest hour first. With Firehose's bare layout the prefix is
    the bucket's root, which also holds its ``errors/`` folder: only keys in the hour layout count."""
    return [o for o in storage.list("raw", storage.raw_key()) if arrival_hour_of(storage, o.key)]


def list_hours(storage: Storage, hours: list[str]) -> dict[str, list[ObjectInfo]]:
    """The objects of each hour, listing each day's folder once: on S3 a listing is a request, and a half-year
    backfill would otherwise make one per hour (4,344) where 181 do."""
    wanted = {check_partition_value(h) for h in hours}
    listing: dict[str, list[ObjectInfo]] = {h: [] for h in hours}
    for day in sorted({h[:10] for h in wanted}):
        y, m, d = day.split("-")
        for info in storage.list("raw", storage.raw_key(f"{y}/{m}/{d}/")):
            hour = arrival_hour_of(storage, info.key)
            if hour in wanted:
                listing[hour].append(info)
    return listing


def object_buffer(storage: Storage, key: str, size: int | None = None) -> pa.Buffer:
    """An object's lines as delivered: GZIP objects (Firehose's ``CompressionFormat: GZIP``) are inflated.
    A ``.gz`` object that is not gzip, or is cut short, raises: an unreadable object fails the seal loudly
    rather than being staged as lines of garbage."""
    data = storage.read_buffer("raw", key, size)
    if not key.endswith(GZIP_SUFFIX):
        return data
    try:
        return pa.py_buffer(gzip.decompress(data))
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"raw object {key} ends in .gz but is not a whole gzip file: {error}") from error


def arrival_of(key: str) -> datetime:
    """The arrival time Firehose writes into the object name: ``<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>``."""
    match = OBJECT_TIME.search(key)
    if not match:
        raise ValueError(f"{key} is not named like a Firehose object (<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>)")
    return datetime.strptime(match.group(1), "%Y-%m-%d-%H-%M-%S")


def _object_lines(data: pa.Buffer | bytes) -> tuple[pa.LargeStringArray, bool]:
    """The lines of an object: split at each newline (only ``\\n``; one at the very end ends the last line), none
    kept. Arrow splits and checks UTF-8 in one copy of the bytes, without a Python object per line: a quarter of
    the CPU the same split cost in numpy and Python's decoder. Bytes that are not UTF-8 are escaped (``\\xNN``): the
    line stays malformed JSON and is quarantined with its content visible, rather than failing the whole object."""
    data = pa.py_buffer(data)
    size = data.size - (data.size > 0 and data[-1] == ord("\n"))
    offsets = pa.py_buffer(np.array([0, size], np.int64))
    whole = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 1, [None, offsets, data])
    lines = pc.split_pattern(whole, "\n").flatten()
    try:
        return lines.cast(pa.large_string()), False
    except pa.ArrowInvalid:
        escaped = [line.decode("utf-8", errors="backslashreplace") for line in data[:size].to_pybytes().split(b"\n")]
        return pa.array(escaped, pa.large_string()), True


def _line_chunks(objects: list[tuple[str, str, pa.LargeStringArray]]) -> pa.ChunkedArray:
    """The objects' lines in order: an object of OWN_CHUNK_BYTES or more is its own chunk, as it was split (copying
    400 MB of lines into one array had cost a 1M-event seal ~0.3 CPU-s, most of it the kernel zeroing fresh pages);
    runs of smaller objects are joined into chunks of about that size, since DuckDB gives every Arrow batch its own
    string blocks, and a half-year of tiny hourly objects, one batch each, ran it out of memory."""
    chunks: list[pa.Array] = []
    run: list[pa.Array] = []
    run_bytes = 0
    for _, _, lines in objects:
        if lines.nbytes >= OWN_CHUNK_BYTES and not run:
            chunks.append(lines)
            continue
        run.append(lines)
        run_bytes += lines.nbytes
        if run_bytes >= OWN_CHUNK_BYTES:
            chunks.append(pa.concat_arrays(run))
            run, run_bytes = [], 0
    if run:
        chunks.append(pa.concat_arrays(run))
    return pa.chunked_array(chunks, pa.large_string())


def _lines_table(objects: list[tuple[str, str, pa.LargeStringArray]]) -> pa.Table:
    """One row per line of ``objects`` (key, arrival hour, lines), with object keys and hours dictionary-encoded
    rather than repeated on every line."""
    counts = np.array([len(lines) for _, _, lines in objects], np.int64)
    which = pa.array(np.repeat(np.arange(len(objects), dtype=np.int32), counts))
    hours = sorted({hour for _, hour, _ in objects})
    hour_index = np.array([hours.index(hour) for _, hour, _ in objects], np.int32)
    arrivals = np.array([arrival_of(key) for key, _, _ in objects], "datetime64[us]")
    columns = [
        pa.DictionaryArray.from_arrays(which, pa.array([key for key, _, _ in objects], pa.string())),
        pa.array(np.concatenate([np.zeros(0, np.int64)] + [np.arange(1, n + 1, dtype=np.int64) for n in counts])),
        _line_chunks(objects),
        pa.DictionaryArray.from_arrays(pa.array(hour_index[which.to_numpy()]), pa.array(hours, pa.string())),
        pa.array(arrivals[which.to_numpy()], pa.timestamp("us")),
    ]
    return pa.table(columns, schema=LINES_SCHEMA)


def split_lines(key: str, arrival_hour: str, data: bytes) -> tuple[pa.RecordBatch, bool]:
    """One row per line of an object, and whether bytes that are not UTF-8 had to be escaped."""
    lines, sanitized = _object_lines(data)
    return _lines_table([(key, arrival_hour, lines)]).to_batches()[0], sanitized


@dataclass
class SealResult:
    manifests: list[SealManifest]
    stats: QueryStats
    staged_bytes: int
    unchanged: list[str] = field(default_factory=list)  # hours whose seal already matched their objects

    def add(self, manifests: list[SealManifest], written: WriteResult) -> None:
        self.manifests.extend(manifests)
        self.stats.engine = written.stats.engine
        self.stats.seconds += written.stats.seconds
        self.stats.bytes_scanned += written.stats.bytes_scanned
        self.staged_bytes += written.bytes


def _chunks(listing: dict[str, list[ObjectInfo]]) -> Iterator[list[str]]:
    """Hours in chunks of at most CHUNK_BYTES of raw objects (an hour is never split). The first chunk is smaller:
    nothing else runs while it is read, and the engine starts on it sooner."""
    chunk, size, limit = [], 0, FIRST_CHUNK_BYTES
    for hour in sorted(listing):
        hour_bytes = sum(o.size for o in listing[hour])
        if chunk and size + hour_bytes > limit:
            yield chunk
            chunk, size, limit = [], 0, CHUNK_BYTES
        chunk.append(hour)
        size += hour_bytes
    if chunk:
        yield chunk


@dataclass
class _ChunkLines:
    lines: pa.Table
    records_per_object: dict[str, int]
    sanitized_per_hour: dict[str, int]


def _read_chunk(storage: Storage, listing: dict[str, list[ObjectInfo]], chunk: list[str]) -> _ChunkLines:
    objects, per_object, sanitized = [], {}, {}
    for hour in chunk:
        for info in listing[hour]:
            lines, was_sanitized = _object_lines(object_buffer(storage, info.key, info.size))
            objects.append((info.key, hour, lines))
            per_object[info.key] = len(lines)
            sanitized[hour] = sanitized.get(hour, 0) + was_sanitized
    # Chunks of at least OWN_CHUNK_BYTES (see _line_chunks), cut into slices of the same buffers: DuckDB classifies one
    # Arrow batch on one thread, so a single batch left the second core idle.
    lines = _lines_table(objects) if objects else LINES_SCHEMA.empty_table()
    return _ChunkLines(pa.Table.from_batches(lines.to_batches(max_chunksize=LINES_PER_BATCH), LINES_SCHEMA),
                       per_object, sanitized)


def _manifests(
    storage: Storage,
    listing: dict[str, list[ObjectInfo]],
    chunk: list[str],
    records_per_object: dict[str, int],
    sanitized_per_hour: dict[str, int],
    fingerprint: str,
    counts: pa.Table,
) -> list[SealManifest]:
    """Write the manifests of a staged chunk of hours (``counts``: its ``transform/hour_counts.sql``), after
    checking every line was staged."""
    sealed_at = now_iso()
    by_hour: dict[str, SealManifest] = {}
    for hour in chunk:
        objects = [{"key": o.key, "bytes": o.size, "records": records_per_object.get(o.key, 0)}
                   for o in listing[hour]]
        by_hour[hour] = SealManifest(
            arrival_hour=hour,
            sealed_at=sealed_at,
            objects=objects,
            records=sum(o["records"] for o in objects),
            bytes=sum(o["bytes"] for o in objects),
            sanitized_objects=sanitized_per_hour.get(hour, 0),
            sealed_with=fingerprint,
        )
    for row in counts.to_pylist():
        manifest = by_hour[row["arrival_hour"]]
        day = row["route_dt"].isoformat()
        manifest.by_day[day] = manifest.by_day.get(day, 0) + row["records"]
        if row["reason"]:
            manifest.reasons[row["reason"]] = manifest.reasons.get(row["reason"], 0) + row["records"]
    for hour, manifest in by_hour.items():
        staged = sum(manifest.by_day.values())
        if staged != manifest.records:
            raise RuntimeError(f"arrival hour {hour}: {manifest.records} lines in raw objects but {staged} staged")
        manifest.unparsed = manifest.reasons.get("malformed_json", 0)
    write_manifests(storage, list(by_hour.values()))
    return list(by_hour.values())


def _seal_in_memory(storage, engine, listing, chunks, stage_params, fingerprint, result, log) -> None:
    """Two chunks are classified and written side by side while the next one is read and split: a chunk's last
    steps (its last files, their renames, the tally, its manifests) and the next statement's start had left both
    cores idle ~0.27 s a chunk, a third of a 1M-event seal. At most three chunks of lines are held at once."""

    def seal(chunk: list[str], read: _ChunkLines) -> tuple[list[SealManifest], WriteResult]:
        written, counts = engine.materialize_tallied(
            "transform/stage_raw.sql", stage_params, "staged_events", chunk, HOUR_COUNTS,
            inputs={"raw_lines": read.lines}, side_by_side=min(SEALING_CHUNKS, len(chunks)))
        # Under the day's manifest lock: the other chunk may be writing the same day's file.
        return _manifests(storage, listing, chunk, read.records_per_object, read.sanitized_per_hour,
                          fingerprint, counts), written

    def finish(sealing: Future) -> None:
        manifests, written = sealing.result()
        result.add(manifests, written)
        log(f"sealed {len(manifests)} hours: {sum(m.records for m in manifests):,} records")

    with ThreadPoolExecutor(max_workers=1) as reader, ThreadPoolExecutor(max_workers=SEALING_CHUNKS) as sealers:
        upcoming = reader.submit(_read_chunk, storage, listing, chunks[0]) if chunks else None
        in_flight: deque[Future] = deque()
        for index, chunk in enumerate(chunks):
            if len(in_flight) == SEALING_CHUNKS:
                finish(in_flight.popleft())
            read = upcoming.result()
            if index + 1 < len(chunks):
                upcoming = reader.submit(_read_chunk, storage, listing, chunks[index + 1])
            in_flight.append(sealers.submit(seal, chunk, read))
            del read
        while in_flight:
            finish(in_flight.popleft())


def _seal_in_place(storage, engine, hours, stage_params, fingerprint, result, log) -> None:
    """Athena reads the hours' objects where they lie (``raw_text``) and classifies them with the same SQL; the
    Dagster process downloads no raw data. One statement per 100 hours (Athena's partitions per UNLOAD)."""
    for start in range(0, len(hours), 100):
        chunk = sorted(hours[start : start + 100])
        written = engine.materialize("transform/stage_raw.sql", stage_params, target="staged_events",
                                     partition_values=chunk, partitions={"raw_text": chunk})
        # Listed after the statement: an object Firehose added meanwhile was read, so it is sealed and recorded.
        listing = list_hours(storage, chunk)
        objects, _ = engine.query("transform/object_counts.sql", {}, partitions={"staged_events": chunk})
        records = {r["source_object"]: r["records"] for r in objects.to_pylist()}
        unlisted = sorted(set(records) - {o.key for h in chunk for o in listing[h]})
        if unlisted:
            raise RuntimeError(f"{len(unlisted)} staged objects are not in the raw listing, e.g. {unlisted[0]}")
        unread = [o.key for h in chunk for o in listing[h] if o.size and not records.get(o.key)]
        if unread:
            raise RuntimeError(f"{len(unread)} raw objects hold bytes but staged no line, e.g. {unread[0]}")
        counts, _ = engine.query(HOUR_COUNTS, {}, partitions={"staged_events": chunk})
        manifests = _manifests(storage, listing, chunk, records, {}, fingerprint, counts)
        result.add(manifests, written)
        log(f"sealed {len(chunk)} hours on {written.stats.engine}: {sum(m.records for m in manifests):,} records")


def seal_fingerprint(stage_params: dict) -> str:
    """What a line's verdict depends on besides its bytes: the classification SQL and its parameters."""
    text = load_sql("transform/stage_raw.sql") + json.dumps(stage_params, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _still_sealed(manifest: SealManifest | None, objects: list[ObjectInfo], fingerprint: str) -> bool:
    return (manifest is not None and manifest.sealed_with == fingerprint
            and {(o["key"], o["bytes"]) for o in manifest.objects} == {(o.key, o.size) for o in objects})


def seal_days(
    storage: Storage,
    engine: Engine,
    days: list[str],
    calendar_start: str,
    log: Callable[[str], None] = lambda _: None,
    max_event_age_days: int = 30,
) -> SealResult:
    """Seal the arrival hours of ``days`` that need it: hours whose objects differ from their manifest (new, grown,
    removed) or were classified by other rules. The others keep their seal; each day's folder is listed once."""
    stage_params = {"calendar_start": calendar_start, "max_event_age_days": max_event_age_days}
    fingerprint = seal_fingerprint(stage_params)
    listing = list_hours(storage, [h for d in days for h in hours_of_day(d)])
    sealed = read_manifests(storage, days)
    due = {h: objects for h, objects in listing.items()
           if (objects or h in sealed) and not _still_sealed(sealed.get(h), objects, fingerprint)}
    result = SealResult([], QueryStats(engine=""), 0, sorted(h for h in sealed if h not in due))
    _seal(storage, engine, due, stage_params, fingerprint, result, log)
    return result


def seal_hours(
    storage: Storage,
    engine: Engine,
    hours: list[str],
    calendar_start: str,
    log: Callable[[str], None] = lambda _: None,
    max_event_age_days: int = 30,
) -> SealResult:
    """Seal exactly ``hours``, whatever their manifests say: stage their lines (replacing any earlier staging
    whole) and write their manifests; an hour without objects seals empty."""
    stage_params = {"calendar_start": calendar_start, "max_event_age_days": max_event_age_days}
    result = SealResult([], QueryStats(engine=""), 0)
    _seal(storage, engine, list_hours(storage, hours), stage_params, seal_fingerprint(stage_params), result, log)
    return result


def _seal(storage, engine, listing: dict[str, list[ObjectInfo]], stage_params, fingerprint, result, log) -> None:
    if engine.seals_in_place:
        _seal_in_place(storage, engine, sorted(listing), stage_params, fingerprint, result, log)
    else:
        _seal_in_memory(storage, engine, listing, list(_chunks(listing)), stage_params, fingerprint, result, log)
