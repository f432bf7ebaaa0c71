"""What a producer run reports: counts sent and delivered, the mess injected, what Firehose would bill."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from clickstream_assets.contract import format_timestamp
from resources.pricing import firehose_cost
from resources.sinks import Sink

if TYPE_CHECKING:
    from clickstream_assets.producer.runner import Producer


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
    firehose_records: int = 0
    firehose_billed_bytes: int = 0
    firehose_cost_usd: float = 0.0
    firehose_billed_bytes_unaggregated: int = 0  # the same events at one Firehose record each
    firehose_cost_usd_unaggregated: float = 0.0
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


def summarize(mode: str, seed: int, producer: Producer, sink: Sink, started: float) -> RunSummary:
    sim, stats = producer.sim, sink.stats
    seconds = time.perf_counter() - started
    fmt = lambda ms: None if ms is None else format_timestamp(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))  # noqa: E731
    return RunSummary(
        mode=mode,
        seed=seed,
        produced=producer.produced,
        sessions=producer.sessions,
        records_sent=producer.sent,
        delivered=stats.delivered,
        failed=stats.failed,
        retried=stats.retried,
        throttled_calls=stats.throttled_calls,
        api_calls=stats.calls,
        objects=stats.objects,
        bytes=stats.bytes,
        firehose_records=stats.records,
        firehose_billed_bytes=stats.billed_bytes,
        firehose_cost_usd=round(firehose_cost(stats.billed_bytes), 6),
        firehose_billed_bytes_unaggregated=stats.billed_bytes_unaggregated,
        firehose_cost_usd_unaggregated=round(firehose_cost(stats.billed_bytes_unaggregated), 6),
        injected_duplicates=sim.counts.duplicates,
        injected_malformed=dict(sim.counts.malformed),
        injected_late=sim.counts.late,
        injected_future=sim.counts.future,
        first_event=fmt(producer.first_ms),
        last_event=fmt(producer.last_ms),
        seconds=round(seconds, 3),
        events_per_second=round(producer.produced / seconds, 1) if seconds > 0 else 0.0,
        behaviour={**sim.behaviour.as_dict(), "revenue": producer.orders.planted()},
        acknowledged=dict(getattr(sink, "acknowledged", {})),
    )


def ingested(summary: RunSummary, sink: Sink, sent: int, started: float) -> RunSummary:
    """``summary`` of an ingest of ``sent`` lines, with the sink's figures."""
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
