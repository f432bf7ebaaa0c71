"""What every processed build reports to metrics, written once: a failed query counted, and each query's bytes
scanned, seconds and cost (split over the partitions it wrote by their bytes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from resources.engine import WriteResult
from resources.metrics import MetricPoint, Metrics, attributed, points


@contextmanager
def failures_counted(metrics: Metrics, asset: str) -> Iterator[None]:
    """Count a query that raised as ``QueryFailures`` of ``asset`` (an alarm watches it), then let it raise."""
    try:
        yield
    except Exception:
        metrics.put(points({"QueryFailures": 1}, Asset=asset))
        raise


def query_points(asset: str, *results: WriteResult) -> list[MetricPoint]:
    """Bytes scanned, seconds and cost of the queries that wrote ``results``, summed."""
    shares: dict[str, int] = {}
    for result in results:
        for key, written in result.partitions.items():
            shares[key] = shares.get(key, 0) + written.bytes
    return (
        points({"QueryBytesScanned": sum(r.stats.bytes_scanned for r in results)}, "Bytes", Asset=asset)
        + points({"QuerySeconds": sum(r.stats.seconds for r in results)}, "Seconds", Asset=asset)
        + attributed("QueryCostUSD", sum(r.stats.cost_usd for r in results), shares, Asset=asset)
    )
