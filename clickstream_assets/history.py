"""Importing history: events a shop already has, landed in the arrival hours of their own timestamps.

Live data arrives through the delivery stream and lands in the hour it arrives. History has no such hour: sent
through the stream it would all land in the open hour, wait for it to close, and anything older than the live
age guard (30 days) would be quarantined. So ``clickstream ingest`` writes history straight into the raw area in
Firehose's layout, each line in the hour of its own event time, as if it had arrived on time. Then
``clickstream backfill --start A --end B`` seals those hours and builds those days like any other, and the
records count as on time, not late.

- Lines whose time cannot be read (malformed JSON, no or bad timestamp) land beside the line before them (or,
  at the start of a file, the first line after them with a time), so a backfill of the file's days seals and
  quarantines them with a reason code: nothing is dropped.
- Object names are a hash of their content, so importing the same file twice writes the same objects again
  instead of a second copy; events imported twice through different files are removed as duplicates.
- ``.gz`` input files are read as gzip.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from clickstream_assets.contract import parse_timestamp
from resources.sinks import firehose_object_key
from resources.storage import Storage

# Like a Firehose buffer, an object holds at most this much; an hour with more gets several objects.
OBJECT_BYTES = 64 * 1024 * 1024
# Held in memory across all hours before the largest hours are written out.
BUFFERED_BYTES = 256 * 1024 * 1024
_TIMESTAMP_FIELD = re.compile(rb'"timestamp"\s*:\s*"([^"\\]{1,64})"')


@dataclass
class ImportSummary:
    """What an import landed, in the shape of a producer run's summary (the completeness ledger reads it)."""

    mode: str = "history"
    lines: int = 0
    untimed_lines: int = 0  # placed beside their neighbours; the seal classifies them
    objects: int = 0
    bytes: int = 0
    first_event: str | None = None
    last_event: str | None = None
    seconds: float = 0.0
    acknowledged: dict[str, int] = field(default_factory=dict)

    @property
    def days(self) -> tuple[date, date] | None:
        if not self.first_event:
            return None
        return date.fromisoformat(self.first_event[:10]), date.fromisoformat(self.last_event[:10])

    def as_dict(self) -> dict:
        return {
            "mode": self.mode, "seed": 0, "produced": self.lines, "records_sent": self.lines,
            "delivered": self.lines, "failed": 0, "retried": 0, "throttled_calls": 0, "api_calls": self.objects,
            "objects": self.objects, "bytes": self.bytes, "sessions": 0, "untimed_lines": self.untimed_lines,
            "first_event": self.first_event, "last_event": self.last_event, "seconds": round(self.seconds, 3),
            "events_per_second": round(self.lines / self.seconds, 1) if self.seconds else 0.0,
            "injected_duplicates": 0, "injected_malformed": {}, "injected_late": 0, "injected_future": 0,
            "acknowledged": dict(self.acknowledged),
        }


def event_hour(line: bytes) -> datetime | None:
    """The UTC hour of a line's ``timestamp``, read without parsing the whole line; None when there is none."""
    match = _TIMESTAMP_FIELD.search(line)
    if not match:
        return None
    moment = parse_timestamp(match.group(1).decode("ascii", errors="replace"))
    return moment.replace(minute=0, second=0, microsecond=0) if moment else None


def read_lines(paths: Iterable[str | Path]) -> Iterator[bytes]:
    """The non-empty lines of each file as bytes (``-`` is standard input); ``.gz`` files are inflated."""
    import sys

    for name in paths:
        if str(name) == "-":
            handle = sys.stdin.buffer
        elif str(name).endswith(".gz"):
            handle = gzip.open(name, "rb")
        else:
            handle = open(name, "rb")  # noqa: SIM115 (closed below; stdin is not ours to close)
        try:
            for line in handle:
                line = line.rstrip(b"\r\n")
                if line.strip():
                    yield line
        finally:
            if handle is not sys.stdin.buffer:
                handle.close()


class _HourBuffers:
    def __init__(self, storage: Storage, stream_name: str, summary: ImportSummary):
        self.storage, self.stream_name, self.summary = storage, stream_name, summary
        self.lines: dict[datetime, list[bytes]] = {}
        self.sizes: dict[datetime, int] = {}
        self.total = 0

    def add(self, hour: datetime, line: bytes) -> None:
        self.lines.setdefault(hour, []).append(line)
        self.sizes[hour] = self.sizes.get(hour, 0) + len(line) + 1
        self.total += len(line) + 1
        if self.sizes[hour] >= OBJECT_BYTES:
            self.write(hour)
        while self.total > BUFFERED_BYTES:
            self.write(max(self.sizes, key=self.sizes.get))

    def _take(self, hour: datetime) -> tuple[str, bytes, int]:
        lines = self.lines.pop(hour)
        self.total -= self.sizes.pop(hour)
        data = b"\n".join(lines) + b"\n"
        digest = hashlib.sha256(data).hexdigest()
        object_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        # Stamped with the hour's last second, as if its buffer opened then: no event of the hour is "ahead" of it.
        key = firehose_object_key(self.storage.raw_key().rstrip("/"), self.stream_name,
                                  hour.replace(minute=59, second=59),
                                  object_id)
        return key, data, len(lines)

    def write(self, hour: datetime) -> None:
        self._land([hour])

    def flush(self) -> None:
        self._land(sorted(self.lines))

    def _land(self, hours: list[datetime]) -> None:
        """Land the hours' buffers as objects, side by side (a small shop's history is thousands of small objects,
        each synced before it counts as landed), then count them as acknowledged."""
        taken = [self._take(hour) for hour in hours]
        self.storage.write_many("raw", {key: data for key, data, _ in taken})
        for key, data, records in taken:
            self.summary.objects += 1
            self.summary.bytes += len(data)
            self.summary.acknowledged[key] = records


def import_history(storage: Storage, lines: Iterable[bytes], stream_name: str = "clickstream-events") -> ImportSummary:
    """Land every line in the raw area under the arrival hour of its own event time (see the module's notes)."""
    started = time.perf_counter()
    summary = ImportSummary()
    buffers = _HourBuffers(storage, stream_name, summary)
    waiting: list[bytes] = []  # untimed lines before the first timed one
    previous: datetime | None = None
    first = last = None
    for line in lines:
        summary.lines += 1
        hour = event_hour(line)
        if hour is None:
            summary.untimed_lines += 1
            if previous is None:
                waiting.append(line)
            else:
                buffers.add(previous, line)
            continue
        first = hour if first is None or hour < first else first
        last = hour if last is None or hour > last else last
        for held in waiting:
            buffers.add(hour, held)
        waiting.clear()
        buffers.add(hour, line)
        previous = hour
    if waiting:  # no line of the input had a time: they arrived now
        now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        for held in waiting:
            buffers.add(now, held)
        first = last = now if first is None else first
    buffers.flush()
    if first is not None:
        summary.first_event, summary.last_event = first.isoformat(), last.isoformat()
    summary.seconds = time.perf_counter() - started
    return summary
