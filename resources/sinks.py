"""Where produced events go: Kinesis Firehose, or a local writer that lays out objects exactly as Firehose does.

Plain Python (no Dagster import) so the producer and ``clickstream ingest`` start fast. The Dagster resources in
``resources/delivery.py`` build these.

Firehose bills every record rounded up to 5 KB, so a 400-byte event sent as its own record costs 12x its size.
With ``aggregate`` several newline-terminated events travel in one record of up to
:data:`FIREHOSE_AGGREGATE_RECORD_BYTES`; Firehose writes records to S3 end to end, so the objects hold the same lines
either way and the seal splits them as before. Both sinks report the billed bytes both ways.
"""

from __future__ import annotations

import os
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np

from resources.files import StreamWriter, sync_directory
from resources.firehose_records import FIREHOSE_AGGREGATE_RECORD_BYTES, Billing, RecordPacker, billed
from resources.ids import uuid4_from

# Firehose PutRecordBatch limits (AWS quotas; one place each).
FIREHOSE_MAX_RECORDS_PER_CALL = 500
FIREHOSE_MAX_BYTES_PER_CALL = 4 * 1024 * 1024
FIREHOSE_MAX_RECORD_BYTES = 1000 * 1024
# Firehose's default buffering hints for S3 delivery.
DEFAULT_BUFFER_BYTES = 5 * 1024 * 1024
DEFAULT_BUFFER_SECONDS = 300

RETRYABLE_ERRORS = frozenset(
    {
        "ServiceUnavailableException",
        "ThrottlingException",
        "LimitExceededException",
        "InternalFailure",
        "InternalFailureException",
        "RequestTimeout",
    }
)


class DeliveryError(RuntimeError):
    """Records could not be delivered; ``undelivered`` says how many."""

    def __init__(self, message: str, undelivered: int):
        super().__init__(message)
        self.undelivered = undelivered


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    throttled_calls: int = 0
    calls: int = 0
    objects: int = 0
    bytes: int = 0
    records: int = 0  # Firehose records: one per event, or one per aggregate
    billed_bytes: int = 0  # what Firehose would bill: each record rounded up to 5 KB
    billed_bytes_unaggregated: int = 0  # the same events at one record each

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def firehose_object_key(prefix: str, stream: str, opened: datetime, object_id: str) -> str:
    """``<prefix>/YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>``: Firehose's default S3 layout."""
    return (
        f"{prefix}/{opened:%Y/%m/%d/%H}/{stream}-1-{opened:%Y-%m-%d-%H-%M-%S}-{object_id}"
        if prefix
        else f"{opened:%Y/%m/%d/%H}/{stream}-1-{opened:%Y-%m-%d-%H-%M-%S}-{object_id}"
    )


def _lines_of(records: Sequence[str]) -> tuple[list[bytes], np.ndarray]:
    data = [(r + "\n").encode("utf-8", "surrogateescape") for r in records]
    return [b"".join(data)], np.fromiter(map(len, data), dtype=np.int64, count=len(data))


class Sink(ABC):
    """Takes events (one JSON line each) and delivers them."""

    stats: DeliveryStats

    def send(self, records: Sequence[str], now: float | None = None) -> None:
        """Queue records (lines without the newline) that arrive at ``now`` (epoch seconds; the clock when None)."""
        parts, lengths = _lines_of(records)
        self.send_lines(parts, lengths, now)

    @abstractmethod
    def send_lines(self, parts: Sequence[bytes | memoryview], lengths: np.ndarray, now: float | None = None) -> None:
        """Queue newline-terminated lines, given as buffers laid end to end and each line's length in bytes."""

    @abstractmethod
    def flush(self) -> None:
        """Deliver everything queued; after it returns, every sent record is acknowledged."""

    def close(self) -> None:
        self.flush()


class LocalFirehoseSink(Sink):
    """Writes objects under ``<root>/<prefix>/YYYY/MM/DD/HH/`` by arrival time, buffered by size and seconds.

    An object is written to a dot-file, synced to disk and renamed into place, so a reader never sees half an object
    and neither a killed process nor a power cut loses what was acknowledged. Full buffers are written by background
    threads (the fsync would otherwise stall the producer ~3 ms per object); ``flush()`` and ``close()`` wait for
    every write. Writes and fsyncs overlap, renames go in the order the buffers were cut, so the visible objects
    are always a prefix of the stream. A buffer never spans two arrival hours, so every object belongs to exactly
    one hourly raw partition.
    """

    # Buffers in flight: bounds memory (16 x 5 MB, and a staging buffer per writer) if the disk is slower than the
    # producer. A virtual disk writes more a second with several writes and fsyncs queued: 4 writers beat 2 by ~1.5x
    # here, and 8 beat 4 by ~1.1x at 1M events (1.4 MB objects, latency-bound), level at 5M (5 MB objects).
    MAX_PENDING_WRITES = 16
    WRITERS = 8

    def __init__(
        self,
        root: str,
        prefix: str = "events",
        stream_name: str = "clickstream-events",
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        buffer_seconds: int = DEFAULT_BUFFER_SECONDS,
        seed: int | None = None,
        on_object: Callable[[str, int], None] | None = None,
        aggregate: bool = False,
    ):
        self.root = root
        self.prefix = prefix
        self.stream_name = stream_name
        self.buffer_bytes = buffer_bytes
        self.buffer_seconds = buffer_seconds
        self.stats = DeliveryStats()
        self._rng = random.Random(seed) if seed is not None else random.SystemRandom()
        self._buffer: list[bytes | memoryview] = []
        self._lines = 0
        self._size = 0
        self._opened: float | None = None
        self._on_object = on_object
        self._billing = Billing(self.stats, aggregate)
        self.acknowledged: dict[str, int] = {}  # object key -> records: what the completeness ledger checks
        self._writer: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending: deque[Future] = deque()
        self._renamed = threading.Event()  # set once the last object cut so far is renamed into place (or failed)
        self._renamed.set()
        self._directories: set[str] = set()
        self._files = StreamWriter()

    def send_lines(self, parts: Sequence[bytes | memoryview], lengths: np.ndarray, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if self._opened is not None and (
            now - self._opened >= self.buffer_seconds or int(now // 3600) != int(self._opened // 3600)
        ):
            self._write_buffer()
        if self._opened is None:
            self._opened = now
        self._buffer.extend(parts)
        self._lines += len(lengths)
        self._size += int(np.sum(lengths))
        self._billing.add(lengths)
        if self._size >= self.buffer_bytes:
            self._write_buffer()

    def flush(self) -> None:
        """Write what is buffered and wait until every object is on disk."""
        self._write_buffer()
        self._billing.close()
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None

    def _write_buffer(self) -> None:
        if not self._buffer:
            self._opened = None
            return
        opened = datetime.fromtimestamp(self._opened, tz=timezone.utc)
        key = firehose_object_key(self.prefix, self.stream_name, opened, uuid4_from(self._rng))
        data, records = self._buffer, self._lines
        self._buffer, self._lines, self._size = [], 0, 0
        self._opened = None
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=self.WRITERS, thread_name_prefix="local-firehose")
        while len(self._pending) >= self.MAX_PENDING_WRITES:
            self._pending.popleft().result()  # also raises a failed write here, in the producer
        previous, self._renamed = self._renamed, threading.Event()
        self._pending.append(self._writer.submit(self._write_object, key, data, records, previous, self._renamed))

    def _directory(self, directory: str) -> None:
        """Create an hour's folder once; a new folder's entry is synced too, or a power cut could lose it."""
        if directory in self._directories:
            return
        with self._lock:
            missing = []
            at = directory
            while at and not os.path.isdir(at):
                missing.append(at)
                at = os.path.dirname(at)
            os.makedirs(directory, exist_ok=True)
            for created in reversed(missing):
                sync_directory(os.path.dirname(created))
            self._directories.add(directory)

    def _write_object(self, key: str, data: list[bytes | memoryview], records: int, previous: threading.Event,
                      renamed: threading.Event) -> None:
        path = os.path.join(self.root, key)
        directory = os.path.dirname(path)
        try:
            self._directory(directory)
            tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp")
            size = self._files.write(tmp, data)  # the bytes on disk before the rename
            previous.wait()
            os.replace(tmp, path)
        finally:
            renamed.set()
        sync_directory(directory)  # acknowledged only once on disk, as Firehose acknowledges only once stored
        with self._lock:
            self.stats.objects += 1
            self.stats.calls += 1
            self.stats.bytes += size
            self.stats.delivered += records
            self.acknowledged[key] = records
            if self._on_object:
                self._on_object(key, records)


class FirehoseSink(Sink):
    """``PutRecordBatch`` in calls of at most 500 records and 4 MiB, retrying exactly the records that failed.

    A call can succeed as a whole and still report per-record failures (``FailedPutCount``), or fail whole with
    throttling: either way only the undelivered records are sent again, with exponential backoff and full jitter,
    up to ``max_attempts``. Past that it raises :class:`DeliveryError` saying how many events were not delivered.
    With ``aggregate`` a record holds whole lines up to :data:`FIREHOSE_AGGREGATE_RECORD_BYTES`; counts of
    delivered, failed and retried are events either way, ``stats.records`` counts records.
    """

    def __init__(
        self,
        client,
        stream_name: str,
        max_attempts: int = 8,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        aggregate: bool = False,
    ):
        self.client = client
        self.stream_name = stream_name
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stats = DeliveryStats()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._pending: list[tuple[bytes, int]] = []  # (record, events in it)
        self._pending_bytes = 0
        self._packer = RecordPacker(FIREHOSE_AGGREGATE_RECORD_BYTES) if aggregate else None
        self._open: list[bytes] = []  # lines of the aggregate being filled
        self._open_lines = 0
        self.too_large = 0

    def send_lines(self, parts: Sequence[bytes | memoryview], lengths: np.ndarray, now: float | None = None) -> None:
        data = b"".join(parts)
        ends = np.cumsum(lengths, dtype=np.int64)
        self.stats.billed_bytes_unaggregated += billed(lengths)
        if self._packer is None:
            start = 0
            for end in ends.tolist():
                self._enqueue(data[start:end], 1)
                start = end
            return
        line = start = 0
        for end_line, _size in self._packer.pack(lengths):
            end = int(ends[end_line - 1]) if end_line else 0
            self._open.append(data[start:end])
            self._enqueue(b"".join(self._open), self._open_lines + end_line - line)
            self._open, self._open_lines, line, start = [], 0, end_line, end
        if start < len(data):
            self._open.append(data[start:])
            self._open_lines += len(lengths) - line

    def _enqueue(self, record: bytes, lines: int) -> None:
        if len(record) > FIREHOSE_MAX_RECORD_BYTES:
            self.too_large += lines
            self.stats.failed += lines
            return
        if (
            len(self._pending) == FIREHOSE_MAX_RECORDS_PER_CALL
            or self._pending_bytes + len(record) > FIREHOSE_MAX_BYTES_PER_CALL
        ):
            self._put(self._pending)
            self._pending, self._pending_bytes = [], 0
        self._pending.append((record, lines))
        self._pending_bytes += len(record)
        self.stats.records += 1
        self.stats.billed_bytes += billed([len(record)])

    def flush(self) -> None:
        if self._open:
            self._packer.close()
            self._enqueue(b"".join(self._open), self._open_lines)
            self._open, self._open_lines = [], 0
        if self._pending:
            batch, self._pending, self._pending_bytes = self._pending, [], 0
            self._put(batch)
        if self.too_large:
            raise DeliveryError(
                f"{self.too_large} records are over Firehose's {FIREHOSE_MAX_RECORD_BYTES // 1024} KiB record "
                "limit and were not sent",
                self.too_large,
            )

    def _backoff(self, attempt: int) -> None:
        self._sleep(self._rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt)))

    def _put(self, batch: list[tuple[bytes, int]]) -> None:
        from botocore.exceptions import ClientError, EndpointConnectionError

        remaining = batch
        last_error = ""
        for attempt in range(self.max_attempts):
            lines = sum(n for _, n in remaining)
            if attempt:
                self.stats.retried += lines
                self._backoff(attempt)
            self.stats.calls += 1
            try:
                response = self.client.put_record_batch(
                    DeliveryStreamName=self.stream_name, Records=[{"Data": d} for d, _ in remaining]
                )
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE_ERRORS:
                    self.stats.failed += lines
                    raise DeliveryError(
                        f"Firehose refused {lines} records on stream {self.stream_name}: {code}: "
                        f"{error.response.get('Error', {}).get('Message', '')}",
                        lines,
                    ) from error
                self.stats.throttled_calls += 1
                last_error = code
                continue
            except EndpointConnectionError as error:
                self.stats.failed += lines
                raise DeliveryError(f"cannot reach Firehose: {error}", lines) from error
            results = response.get("RequestResponses", [])
            if response.get("FailedPutCount", 0) == 0:
                self.stats.delivered += lines
                self.stats.bytes += sum(len(d) for d, _ in remaining)
                return
            failed = [item for item, r in zip(remaining, results) if r.get("ErrorCode")]
            codes = {r["ErrorCode"] for r in results if r.get("ErrorCode")}
            last_error = ", ".join(sorted(codes))
            self.stats.delivered += lines - sum(n for _, n in failed)
            self.stats.bytes += sum(len(d) for d, _ in remaining) - sum(len(d) for d, _ in failed)
            remaining = failed
        lines = sum(n for _, n in remaining)
        self.stats.failed += lines
        raise DeliveryError(
            f"{lines} records not delivered to Firehose stream {self.stream_name} after "
            f"{self.max_attempts} attempts (last error: {last_error})",
            lines,
        )
