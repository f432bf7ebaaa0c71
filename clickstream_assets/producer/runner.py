"""Runs the simulator into a sink: historical days as fast as the machine can, or live at a rate.

Events are handed to the sink in arrival order, a minute (historical) or a second (live) at a time, so the sink's
own buffering by size and seconds decides the objects, as Firehose's buffering hints would.
"""

from __future__ import annotations

import heapq
import json
import math
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from clickstream_assets.contract import REQUIRED_FIELDS, format_timestamp, parse_timestamp
from clickstream_assets.producer.simulator import DAY_MS, MAX_SESSION_MS, Behaviour, Mess, Simulator
from resources.pricing import firehose_cost
from resources.sinks import DeliveryError, Sink

HISTORICAL_SLOT_MS = 60_000
LIVE_SLOT_MS = 1_000
MAX_DELIVERY_DELAY_MS = 3_000
LATE_DELAY_MS = (3_600_000, 12 * 3_600_000)
FUTURE_SHIFT_DAYS = (2, 400)

Progress = Callable[[int, int], None]


@dataclass
class RunSummary:
    mode: str
    seed: int
    produced: int = 0
    sessions: int = 0
    records_sent: int = 0
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    throttled_calls: int = 0
    api_calls: int = 0
    objects: int = 0
    bytes: int = 0
    firehose_billed_bytes: int = 0
    firehose_cost_usd: float = 0.0
    injected_duplicates: int = 0
    injected_malformed: dict[str, int] = field(default_factory=dict)
    injected_late: int = 0
    injected_future: int = 0
    first_event: str | None = None
    last_event: str | None = None
    seconds: float = 0.0
    events_per_second: float = 0.0
    error: str | None = None
    acknowledged: dict[str, int] = field(default_factory=dict)  # local sink: object key -> records
    behaviour: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class _Emitter:
    """Holds lines by arrival slot and hands finished slots to the sink in order."""

    def __init__(self, sink: Sink, slot_ms: int, cap_ms: int | None):
        self.sink = sink
        self.slot_ms = slot_ms
        self.cap_ms = cap_ms
        self.slots: dict[int, list[str]] = {}
        self.order: list[int] = []
        self.sent = 0

    def add(self, arrival_ms: int, line: str) -> None:
        if self.cap_ms is not None and arrival_ms > self.cap_ms:
            arrival_ms = self.cap_ms  # nothing arrives after "now"
        slot = arrival_ms // self.slot_ms
        lines = self.slots.get(slot)
        if lines is None:
            lines = self.slots[slot] = []
            heapq.heappush(self.order, slot)
        lines.append(line)

    def release(self, before_slot: int | None, pace: bool = False) -> None:
        while self.order and (before_slot is None or self.order[0] < before_slot):
            slot = heapq.heappop(self.order)
            lines = self.slots.pop(slot)
            at = slot * self.slot_ms / 1000
            if pace:
                delay = at - time.time()
                if delay > 0:
                    time.sleep(delay)
                at = max(at, time.time())
            self.sink.send(lines, now=at)
            self.sent += len(lines)


class Producer:
    """Simulator + mess + emitter: the one loop both modes share."""

    def __init__(self, sink: Sink, sim: Simulator, mess: Mess, slot_ms: int, cap_ms: int | None):
        self.sim = sim
        self.mess = mess
        self.emitter = _Emitter(sink, slot_ms, cap_ms)
        self.first_ms: int | None = None
        self.last_start: int | None = None
        self.last_ms: int | None = None

    def run_window(
        self,
        start_ms: int,
        end_ms: int,
        quota: int,
        starts: list[int],
        progress: Callable[[int], None] | None = None,
        truncate_at_end: bool = False,
    ) -> int:
        sim, emit = self.sim, self._emit
        made = 0
        for n, start in enumerate(starts):
            if made >= quota:
                break
            self.last_start = start
            times, lines = sim.session_events(start, quota - made)
            if truncate_at_end and times[-1] >= end_ms:
                keep = bisect_left(times, end_ms)
                times, lines = times[:keep], lines[:keep]
            if times:
                emit(times, lines)
                made += len(times)
            if n % 64 == 63:
                self.emitter.release((start - MAX_SESSION_MS - MAX_DELIVERY_DELAY_MS) // self.emitter.slot_ms)
                if progress:
                    progress(made)
        return made

    def _emit(self, times: list[int], lines_: list[str]) -> None:
        first, last = times[0], times[-1]
        if self.first_ms is None or first < self.first_ms:
            self.first_ms = first
        if self.last_ms is None or last > self.last_ms:
            self.last_ms = last
        # One network delay per session: a device's latency barely changes within a visit.
        delay = 200 + int(self.sim.rng.random() * (MAX_DELIVERY_DELAY_MS - 200))
        if self.mess.duplicate_rate or self.mess.malformed_rate or self.mess.late_rate or self.mess.future_rate:
            for ts, line in zip(times, lines_):
                self._emit_messy(ts, ts + delay, line)
            return
        emitter = self.emitter
        if emitter.cap_ms is not None and last + delay > emitter.cap_ms:
            for ts, line in zip(times, lines_):
                emitter.add(ts + delay, line)
            return
        # The hot path: no mess, nothing near "now"; the same as add(), inlined.
        slots, slot_ms = emitter.slots, emitter.slot_ms
        for ts, line in zip(times, lines_):
            slot = (ts + delay) // slot_ms
            lines = slots.get(slot)
            if lines is None:
                lines = slots[slot] = []
                heapq.heappush(emitter.order, slot)
            lines.append(line)

    def _emit_messy(self, ts: int, arrival: int, line: str) -> None:
        rng, mess, counts, add = self.sim.rng, self.mess, self.sim.counts, self.emitter.add
        if mess.late_rate and rng.random() < mess.late_rate:
            arrival += rng.randrange(*LATE_DELAY_MS)
            counts.late += 1
        add(arrival, line)
        if mess.duplicate_rate and rng.random() < mess.duplicate_rate:
            add(arrival + rng.randrange(0, 30_000), line)  # an at-least-once resend
            counts.duplicates += 1
        if mess.malformed_rate and rng.random() < mess.malformed_rate:
            kind = rng.choice(sorted(counts.malformed))
            add(arrival, corrupt(line, kind, rng))
            counts.malformed[kind] += 1
        if mess.future_rate and rng.random() < mess.future_rate:
            record = json.loads(line)
            shifted = parse_timestamp(record["timestamp"]) + timedelta(days=rng.randrange(*FUTURE_SHIFT_DAYS))
            record["timestamp"] = format_timestamp(shifted)
            record["event_id"] = self.sim._uuid()
            add(arrival, json.dumps(record, separators=(",", ":")))
            counts.future += 1


def corrupt(line: str, kind: str, rng) -> str:
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


def _summary(mode: str, seed: int, producer: Producer, sink: Sink, started: float, produced: int) -> RunSummary:
    sim, stats = producer.sim, sink.stats
    seconds = time.perf_counter() - started
    fmt = lambda ms: None if ms is None else format_timestamp(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))  # noqa: E731
    return RunSummary(
        mode=mode,
        seed=seed,
        produced=produced,
        sessions=sim.sessions,
        records_sent=producer.emitter.sent,
        delivered=stats.delivered,
        failed=stats.failed,
        retried=stats.retried,
        throttled_calls=stats.throttled_calls,
        api_calls=stats.calls,
        objects=stats.objects,
        bytes=stats.bytes,
        firehose_billed_bytes=stats.billed_bytes,
        firehose_cost_usd=round(firehose_cost(stats.billed_bytes), 6),
        injected_duplicates=sim.counts.duplicates,
        injected_malformed=dict(sim.counts.malformed),
        injected_late=sim.counts.late,
        injected_future=sim.counts.future,
        first_event=fmt(producer.first_ms),
        last_event=fmt(producer.last_ms),
        seconds=round(seconds, 3),
        events_per_second=round(produced / seconds, 1) if seconds > 0 else 0.0,
        behaviour=sim.behaviour.as_dict(),
        acknowledged=dict(getattr(sink, "acknowledged", {})),
    )


def _finish(sink: Sink, summary_factory: Callable[[], RunSummary]) -> RunSummary:
    try:
        sink.flush()
    except DeliveryError as error:
        summary = summary_factory()
        summary.error = str(error)
        return summary
    return summary_factory()


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
) -> RunSummary:
    """``days`` days of traffic from ``start``, ``events_per_day`` events each (before any injected mess)."""
    mess = mess or Mess()
    sim = Simulator(seed=seed, users=users, products=products, behaviour=behaviour, mess=mess)
    now = now or datetime.now(timezone.utc)
    # Records cannot arrive after now; they land in the last closed hour, so every one is sealable.
    cap_ms = int(now.timestamp() * 1000) // 3_600_000 * 3_600_000 - 1_000
    producer = Producer(sink, sim, mess, HISTORICAL_SLOT_MS, cap_ms)
    started = time.perf_counter()
    total = days * events_per_day
    done = 0
    try:
        for d in range(days):
            day = start + timedelta(days=d)
            day_ms = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
            made = 0
            # Sessions enough for the day's quota over the whole day; if flows ran short, a small top-up pass
            # starts after the last session so events still reach the sink in arrival order.
            while made < events_per_day:
                needed = events_per_day - made
                count = max(1, math.ceil(needed / sim.mean_events_per_session))
                starts = sim.session_starts(day, count, after_ms=producer.last_start if made else None)
                made += producer.run_window(
                    day_ms,
                    day_ms + DAY_MS,
                    needed,
                    starts,
                    progress=(lambda m, base=done + made: progress(base + m, total)) if progress else None,
                )
            done += made
        producer.emitter.release(None)
    except DeliveryError as error:
        summary = _summary("historical", seed, producer, sink, started, done)
        summary.error = str(error)
        return summary
    summary = _finish(sink, lambda: _summary("historical", seed, producer, sink, started, done))
    summary.parameters = {
        "start": start.isoformat(),
        "days": days,
        "events_per_day": events_per_day,
        "users": users,
        "products": products,
        **mess.__dict__,
    }
    if progress:
        progress(done, total)
    return summary


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
) -> RunSummary:
    """``rate`` events a second for ``duration`` seconds of wall-clock time, timestamped as they happen."""
    mess = mess or Mess()
    sim = Simulator(seed=seed, users=users, products=products, mess=mess, stream_seed=seed_offset)
    producer = Producer(sink, sim, mess, LIVE_SLOT_MS, None)
    started = time.perf_counter()
    start_ms = int((start or datetime.now(timezone.utc)).timestamp() * 1000)
    end_ms = start_ms + int(duration * 1000)
    quota = int(rate * duration)
    rng = sim.rng
    starts = sorted(start_ms + rng.randrange(max(1, end_ms - start_ms)) for _ in range(max(1, quota)))
    produced = producer.run_window(start_ms, end_ms, quota, starts, truncate_at_end=True)
    try:
        producer.emitter.release(None, pace=True)
    except DeliveryError as error:
        summary = _summary("live", seed, producer, sink, started, produced)
        summary.error = str(error)
        return summary
    summary = _finish(sink, lambda: _summary("live", seed, producer, sink, started, produced))
    summary.parameters = {"rate": rate, "duration": duration, "seed_offset": seed_offset, **mess.__dict__}
    if progress:
        progress(produced, produced)
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
    stats = sink.stats
    summary.produced = summary.records_sent = sent
    summary.delivered, summary.failed, summary.retried = stats.delivered, stats.failed, stats.retried
    summary.api_calls, summary.objects, summary.bytes = stats.calls, stats.objects, stats.bytes
    summary.throttled_calls = stats.throttled_calls
    summary.acknowledged = dict(getattr(sink, "acknowledged", {}))
    summary.firehose_billed_bytes = stats.billed_bytes
    summary.firehose_cost_usd = round(firehose_cost(stats.billed_bytes), 6)
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.events_per_second = round(sent / summary.seconds, 1) if summary.seconds else 0.0
    return summary
