"""Firehose records and their bill: packing whole lines into aggregated records, and what Firehose would charge."""

from __future__ import annotations

import numpy as np

from resources.pricing import FIREHOSE_RECORD_INCREMENT

# An aggregated record: a whole number of 5 KB billing increments (so rounding wastes under one line), a tenth of the
# record limit (so a failed record's retry resends little), 40 per 4 MiB call.
FIREHOSE_AGGREGATE_RECORD_BYTES = 20 * FIREHOSE_RECORD_INCREMENT


def billed(lengths: np.ndarray) -> int:
    """Firehose's bill for records of these sizes: each rounded up to 5 KB."""
    return int((-(-np.asarray(lengths, dtype=np.int64) // FIREHOSE_RECORD_INCREMENT)).sum()) * FIREHOSE_RECORD_INCREMENT


class RecordPacker:
    """Packs whole lines into records of at most ``limit`` bytes, in order, an open record carried across batches."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open_bytes = 0

    def pack(self, lengths: np.ndarray) -> list[tuple[int, int]]:
        """The records this batch closes, as (end line in this batch, record bytes); a record's lines are the ones
        carried in plus this batch's lines after the previous record's end. A line over the limit is a record alone."""
        cum = np.cumsum(lengths, dtype=np.int64)
        n, closed, i = len(cum), [], 0
        start = -self.open_bytes  # where the open record began, in this batch's byte positions
        while i < n:
            j = int(np.searchsorted(cum, start + self.limit, side="right"))
            if j >= n:
                break
            before = int(cum[i - 1]) if i else 0
            if j > i:
                closed.append((j, int(cum[j - 1]) - start))
                start, i = int(cum[j - 1]), j
            elif before > start:  # the open record is full: close it, the line starts the next
                closed.append((i, before - start))
                start = before
            else:  # one line bigger than a record: it travels alone
                closed.append((i + 1, int(lengths[i])))
                start, i = int(cum[i]), i + 1
        self.open_bytes = (int(cum[-1]) if n else 0) - start
        return closed

    def close(self) -> int:
        """Close the open record; its size (0 when none was open)."""
        size, self.open_bytes = self.open_bytes, 0
        return size


class Billing:
    """What Firehose would bill for the lines sent: as records are cut (one per line, or aggregated) and at one
    record per line."""

    def __init__(self, stats, aggregate: bool):  # stats: a sinks.DeliveryStats
        self.stats = stats
        self.packer = RecordPacker(FIREHOSE_AGGREGATE_RECORD_BYTES) if aggregate else None

    def add(self, lengths: np.ndarray) -> list[tuple[int, int]] | None:
        self.stats.billed_bytes_unaggregated += billed(lengths)
        if self.packer is None:
            self.stats.records += len(lengths)
            self.stats.billed_bytes += billed(lengths)
            return None
        closed = self.packer.pack(lengths)
        self.records([size for _, size in closed])
        return closed

    def records(self, sizes: list[int]) -> None:
        self.stats.records += len(sizes)
        self.stats.billed_bytes += billed(np.array(sizes, dtype=np.int64))

    def close(self) -> int:
        size = self.packer.close() if self.packer else 0
        if size:
            self.records([size])
        return size
