"""Runs the simulator into a sink: historical days as fast as the machine can, or live at a rate.

Sessions are drawn a batch at a time (:mod:`columnar`), their lines rendered in arrival order (:mod:`ndjson`), and
handed to the sink an arrival slot at a time: a minute (historical) or a second (live), so the sink's own buffering
by size and seconds decides the objects, as Firehose's buffering hints would. A slot is released once no later
session can still add to it.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

from clickstream_assets.contract import REQUIRED_FIELDS
from clickstream_assets.producer.columnar import ColumnarSimulator, Events, Sessions
from clickstream_assets.producer.ndjson import Renderer
from clickstream_assets.producer.simulator import DAY_MS, HOURLY_TRAFFIC, Behaviour, Mess
from clickstream_assets.producer.summary import RunSummary, ingested, summarize
from clickstream_assets.producer.tally import OrderTally
from resources.sinks import DeliveryError, Sink

HISTORICAL_SLOT_MS = 60_000
LIVE_SLOT_MS = 1_000
MAX_DELIVERY_DELAY_MS = 3_000
LATE_DELAY_MS = (3_600_000, 12 * 3_600_000)
FUTURE_SHIFT_DAYS = (2, 400)
DUPLICATE_DELAY_MS = 30_000
BATCH_SESSIONS = 16_384  # sessions drawn at once: large enough for numpy, small enough to bound memory
# A live slice also sees visits that began before it (their later events fall inside it), so its rate is steady.
LIVE_WARMUP_MS = 45 * 60_000

Progress = Callable[[int, int], None]


def _line_buffers(lines: pa.Array) -> tuple[memoryview, np.ndarray]:
    """The data buffer and the n + 1 offsets of a large_binary array."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2]), offsets


class Producer:
    """Renders batches of sessions, adds the mess, and releases lines to the sink in arrival-slot order."""

    def __init__(self, sink: Sink, sim: ColumnarSimulator, mess: Mess, slot_ms: int, cap_ms: int | None,
                 seed: int):
        self.sink = sink
        self.sim = sim
        self.mess = mess
        self.slot_ms = slot_ms
        self.cap_ms = cap_ms
        self.renderer = Renderer(sim)
        self.rng = np.random.default_rng([seed, 0x3E55])
        self.corrupt_rng = random.Random(f"mess/{seed}")
        self.pending: list[tuple[pa.Array, np.ndarray]] = []  # lines sorted by slot, and their slots
        self.sent = 0
        self.produced = 0
        self.sessions = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.orders = OrderTally(sim)  # what was planted: the revenue models must measure it back

    def add(self, sessions: Sessions, events: Events, keep: np.ndarray | None = None) -> None:
        """Queue a batch's events (only the rows ``keep`` when given) and the mess made from them, by arrival slot.
        The rows kept and their arrival order are taken in one gather, not a copy of the batch for each."""
        mess = self.mess
        if keep is not None and (mess.late_rate or mess.duplicate_rate or mess.malformed_rate or mess.future_rate):
            events, keep = events.take(keep), None  # the mess below copies and shifts rows of the kept events
        ts, session = (events.ts, events.session) if keep is None else (events.ts[keep], events.session[keep])
        n = len(ts)
        if not n:
            return
        self.produced += n
        self.sessions += int(np.count_nonzero(np.bincount(session)))
        self.orders.count(events, keep)
        low, high = int(ts.min()), int(ts.max())
        self.first_ms = low if self.first_ms is None else min(self.first_ms, low)
        self.last_ms = high if self.last_ms is None else max(self.last_ms, high)
        arrival = ts + sessions.delay[session]
        rng, counts = self.rng, self.sim.counts
        tails = self.renderer.session_tails(sessions)
        batches, arrivals = [events], [arrival]
        if mess.late_rate:
            late = np.flatnonzero(rng.random(n) < mess.late_rate)
            arrival[late] += rng.integers(*LATE_DELAY_MS, len(late))
            counts.late += len(late)
        if mess.duplicate_rate:  # an at-least-once resend
            again = np.flatnonzero(rng.random(n) < mess.duplicate_rate)
            batches.append(events.take(again))
            arrivals.append(arrival[again] + rng.integers(0, DUPLICATE_DELAY_MS, len(again)))
            counts.duplicates += len(again)
        if mess.malformed_rate:
            broken = np.flatnonzero(rng.random(n) < mess.malformed_rate)
            self._malformed(events.take(broken), tails, arrival[broken])
        if mess.future_rate:
            ahead = np.flatnonzero(rng.random(n) < mess.future_rate)
            copies = events.take(ahead)
            copies.ts = copies.ts + rng.integers(*FUTURE_SHIFT_DAYS, len(ahead)) * DAY_MS
            copies.id_hi, copies.id_lo = (rng.integers(0, 2**64 - 1, len(ahead), dtype=np.uint64, endpoint=True)
                                          for _ in range(2))
            batches.append(copies)
            arrivals.append(arrival[ahead])
            counts.future += len(ahead)
        if len(batches) > 1:
            events = Events(*(np.concatenate([getattr(b, f) for b in batches]) for f in Events.__dataclass_fields__))
            arrival = np.concatenate(arrivals)
        slots = self._slots(arrival)
        order = _stable_order(slots)
        rows, slots = order if keep is None else keep[order], slots[order]
        at = 0
        for lines in self.renderer.lines(events.take(rows), tails):
            self.pending.append((lines, slots[at : at + len(lines)]))
            at += len(lines)

    def _slots(self, arrival: np.ndarray) -> np.ndarray:
        if self.cap_ms is not None:
            arrival = np.minimum(arrival, self.cap_ms)  # nothing arrives after "now"
        return arrival // self.slot_ms

    def _malformed(self, events: Events, tails: pa.Array, arrival: np.ndarray) -> None:
        rng, counts = self.corrupt_rng, self.sim.counts
        kinds = sorted(counts.malformed)
        broken = []
        for line in (line for lines in self.renderer.lines(events, tails) for line in lines.to_pylist()):
            kind = rng.choice(kinds)
            broken.append(corrupt(line[:-1].decode(), kind, rng).encode() + b"\n")
            counts.malformed[kind] += 1
        slots = self._slots(arrival)
        order = np.argsort(slots, kind="stable")
        self.pending.append((pa.array([broken[i] for i in order], pa.large_binary()), slots[order]))

    def release(self, before_slot: int | None, pace: bool = False) -> None:
        """Send every queued line whose slot is before ``before_slot`` (all with None), slot by slot."""
        pieces = [(lines, slots, *_line_buffers(lines)) for lines, slots in self.pending]
        due = [slots if before_slot is None else slots[: np.searchsorted(slots, before_slot)]
               for _, slots, _, _ in pieces]
        release = _distinct(np.concatenate(due)) if due else np.empty(0, dtype=np.int64)
        bounds = [np.searchsorted(slots, release).tolist() + [len(d)] for (_, slots, _, _), d in zip(pieces, due)]
        for k, slot in enumerate(release.tolist()):
            parts, lengths = [], []
            for (_, _, data, offsets), edges in zip(pieces, bounds):
                a, b = edges[k], edges[k + 1]
                if b > a:
                    parts.append(data[offsets[a] : offsets[b]])
                    lengths.append(np.diff(offsets[a : b + 1]))
            at = slot * self.slot_ms / 1000
            if pace:
                delay = at - time.time()
                if delay > 0:
                    time.sleep(delay)
                at = max(at, time.time())
            sizes = np.concatenate(lengths)
            self.sink.send_lines(parts, sizes, now=at)
            self.sent += len(sizes)
        rest = [(lines.slice(len(d)), slots[len(d):]) for (lines, slots, _, _), d in zip(pieces, due)]
        rest = [(lines, slots) for lines, slots in rest if len(slots)]
        if len(rest) > 1:  # one sorted piece again
            slots = np.concatenate([s for _, s in rest])
            order = np.argsort(slots, kind="stable")
            rest = [(pa.concat_arrays([lines for lines, _ in rest]).take(pa.array(order)), slots[order])]
        self.pending = rest


def _stable_order(slots: np.ndarray) -> np.ndarray:
    """``argsort(slots, kind="stable")``; slots a batch spans fit 16 bits as offsets from the first, and numpy sorts
    16-bit keys by radix, in linear time (~4x faster here than the merge sort int64 keys get)."""
    if len(slots) and int(slots.max()) - int(slots.min()) < 1 << 16:
        return np.argsort((slots - slots.min()).astype(np.uint16), kind="stable")
    return np.argsort(slots, kind="stable")


def _distinct(slots: np.ndarray) -> np.ndarray:
    """``np.unique(slots)`` by counting, for the few thousand slots (minutes, seconds) a release spans."""
    if not len(slots):
        return slots
    low = int(slots.min())
    if int(slots.max()) - low >= 1 << 20:
        return np.unique(slots)
    return np.flatnonzero(np.bincount(slots - low)) + low


def corrupt(line: str, kind: str, rng: random.Random) -> str:
    """A copy of a good line broken in one known way, so the quarantine's reason can be checked."""
    if kind == "malformed_json":
        return line[: rng.randrange(5, len(line) - 2)]
    record = json.loads(line)
    if kind == "missing_field":
        # Only fields every shape needs: without schema_version an event is the original shape, which is valid.
        del record[rng.choice(REQUIRED_FIELDS)]
    elif kind == "bad_type":
        name, value = rng.choice(
            [("schema_version", "1"), ("schema_version", True), ("page", 404), ("user_id", ["x"]),
             ("product_id", 17), ("session_id", {"id": 1})]
        )
        record[name] = value
    elif kind == "unknown_event_type":
        record["event_type"] = rng.choice(["hover", "scroll", "VIEW", ""])
    elif kind == "bad_timestamp":
        ts = record["timestamp"]
        record["timestamp"] = rng.choice(
            [ts.replace("Z", "+0200"), ts[:10] + " " + ts[11:19], "2026-02-30T10:00:00Z", "yesterday"]
        )
    return json.dumps(record, separators=(",", ":"))


def _exactly(batches: list[tuple[Sessions, Events]], quota: int,
             rng: np.random.Generator) -> Iterator[tuple[Sessions, Events, np.ndarray]]:
    """Visits in a random order until ``quota`` events: a visit is kept whole or left out, and the last one taken
    ends early (a prefix of a visit is still a visit). Yields each batch with the rows it keeps, emptying
    ``batches`` as it goes so a batch's columns are freed once rendered."""
    sizes = [np.bincount(events.session, minlength=len(sessions.start)) for sessions, events in batches]
    every = np.concatenate(sizes)
    rank = np.argsort(rng.random(len(every)))
    before = np.cumsum(every[rank]) - every[rank]
    allowance = np.empty_like(every)
    allowance[rank] = np.clip(quota - before, 0, None)
    offset = 0
    batches.reverse()
    for size in sizes:
        sessions, events = batches.pop()
        limit = allowance[offset : offset + len(size)][events.session]
        position = np.arange(len(events)) - (np.cumsum(size) - size)[events.session]
        yield sessions, events, np.flatnonzero(position < limit)
        offset += len(size)


def _deliver(mode: str, seed: int, producer: Producer, sink: Sink, started: float,
             run: Callable[[], None]) -> RunSummary:
    """Run, then flush; a delivery error ends the run with the summary saying what was lost."""
    try:
        run()
        sink.flush()
    except DeliveryError as error:
        summary = summarize(mode, seed, producer, sink, started)
        summary.error = str(error)
        return summary
    return summarize(mode, seed, producer, sink, started)


def produce_historical(
    sink: Sink,
    start: date,
    days: int,
    events_per_day: int,
    seed: int = 1,
    users: int = 20_000,
    products: int = 2_000,
    mess: Mess | None = None,
    behaviour: Behaviour | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
    until: datetime | None = None,
) -> RunSummary:
    """``days`` days of traffic from ``start``, ``events_per_day`` events each (before any injected mess).

    With ``until`` (an hour boundary), nothing happens from then on and the day it cuts gets the share of its
    quota that the daily curve puts before it: the demo's traffic runs up to the current hour, as a live shop's
    would, so the newest data is fresh and every partition up to now holds some."""
    mess = mess or Mess()
    sim = ColumnarSimulator(seed=seed, users=users, products=products, behaviour=behaviour)
    now = now or datetime.now(timezone.utc)
    # Records cannot arrive after now; they land in the last closed hour, so every one is sealable.
    cap_ms = int(now.timestamp() * 1000) // 3_600_000 * 3_600_000 - 1_000
    producer = Producer(sink, sim, mess, HISTORICAL_SLOT_MS, cap_ms, seed)
    started = time.perf_counter()
    first_ms = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp() * 1000)
    # Visits cross midnight between the days asked for, but nothing happens after the last one (or ``until``).
    end_ms = first_ms + days * DAY_MS
    if until is not None:
        end_ms = min(end_ms, int(until.timestamp() * 1000))
    quotas = [round(events_per_day * _share_before(end_ms - (first_ms + d * DAY_MS))) for d in range(days)]
    total = sum(quotas)

    def run() -> None:
        for d, quota in enumerate(quotas):
            if not quota:
                continue
            day = start + timedelta(days=d)
            day_ms = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
            # A few more visits than the quota needs, over the whole day, then some left out at random: the
            # day's curve keeps its shape and the count is exact.
            spare, batches = 1.06, []
            while sum(len(events) for _, events in batches) < quota:
                count = max(1, math.ceil(events_per_day / sim.mean_events_per_session * spare))
                starts = sim.day_starts(day_ms, count)
                batches = [sim.batch(starts[at : at + BATCH_SESSIONS], 2**62, end_ms=end_ms)
                           for at in range(0, count, BATCH_SESSIONS)]
                spare *= 1.25
            for sessions, events, keep in _exactly(batches, quota, producer.rng):
                producer.add(sessions, events, keep)
                producer.release(int(sessions.start[-1]) // HISTORICAL_SLOT_MS)
                if progress:
                    progress(producer.produced, total)
        producer.release(None)

    summary = _deliver("historical", seed, producer, sink, started, run)
    summary.parameters = {
        "start": start.isoformat(),
        "days": days,
        "events_per_day": events_per_day,
        **({"until": until.isoformat()} if until is not None else {}),
        "users": users,
        "products": products,
        **mess.__dict__,
    }
    if progress:
        progress(producer.produced, total)
    return summary


def _share_before(ms_into_day: int) -> float:
    """The share of a day's traffic (by the daily curve) before ``ms_into_day``: 1 past the day's end."""
    hours = min(max(ms_into_day, 0), DAY_MS) / 3_600_000
    whole = int(hours)
    before = sum(HOURLY_TRAFFIC[:whole]) + (HOURLY_TRAFFIC[whole] * (hours - whole) if whole < 24 else 0)
    return before / sum(HOURLY_TRAFFIC)


def produce_live(
    sink: Sink,
    rate: float,
    duration: float,
    seed: int = 1,
    seed_offset: int = 0,
    users: int = 20_000,
    products: int = 2_000,
    mess: Mess | None = None,
    progress: Progress | None = None,
    start: datetime | None = None,
    behaviour: Behaviour | None = None,
) -> RunSummary:
    """``rate`` events a second for ``duration`` seconds of wall-clock time, timestamped as they happen.

    A slice is a window on continuous traffic: visits start evenly over the slice and the warm-up before it, and
    only events inside the slice are sent (visits under way when it opens send their remaining events, visits under
    way when it closes stop there), so the rate holds from the first second to the last. Visits picked in a random
    order (the last one cut short) make up exactly ``rate * duration`` events.
    """
    mess = mess or Mess()
    sim = ColumnarSimulator(seed=seed, users=users, products=products, behaviour=behaviour,
                            stream_seed=seed_offset)
    producer = Producer(sink, sim, mess, LIVE_SLOT_MS, None, seed * 1_000_003 + seed_offset)
    started = time.perf_counter()
    start_ms = int((start or datetime.now(timezone.utc)).timestamp() * 1000)
    end_ms = start_ms + int(duration * 1000)
    quota = int(rate * duration)
    # Events inside the slice come at (visits a second) x (events a visit), whenever the visits began.
    per_ms = quota / (sim.mean_events_per_session * (end_ms - start_ms))
    batches, made = [], 0
    while made < quota and len(batches) < 20:
        count = max(1, math.ceil(per_ms * (end_ms - start_ms + LIVE_WARMUP_MS) * 1.05))
        starts = sim.uniform_starts(start_ms - LIVE_WARMUP_MS, end_ms, count)
        for at in range(0, len(starts), BATCH_SESSIONS):
            sessions, events = sim.batch(starts[at : at + BATCH_SESSIONS], 2**62, begin_ms=start_ms, end_ms=end_ms)
            batches.append((sessions, events))
            made += len(events)
    for sessions, events, keep in _exactly(batches, quota, producer.rng):
        producer.add(sessions, events, keep)

    summary = _deliver("live", seed, producer, sink, started, lambda: producer.release(None, pace=True))
    summary.parameters = {"rate": rate, "duration": duration, "seed_offset": seed_offset, **mess.__dict__}
    if progress:
        progress(producer.produced, producer.produced)
    return summary


def ingest(sink: Sink, lines: Iterable[str], batch: int = 500) -> RunSummary:
    """Send lines a user already has through the same sink, batching and retries: one record a line."""
    started = time.perf_counter()
    summary = RunSummary(mode="ingest", seed=0)
    chunk: list[str] = []
    sent = 0
    try:
        for raw in lines:
            record = raw.rstrip("\r\n")
            if not record:
                continue
            chunk.append(record)
            if len(chunk) >= batch:
                sink.send(chunk)
                sent += len(chunk)
                chunk = []
        if chunk:
            sink.send(chunk)
            sent += len(chunk)
        sink.flush()
    except DeliveryError as error:
        summary.error = str(error)
    return ingested(summary, sink, sent, started)
