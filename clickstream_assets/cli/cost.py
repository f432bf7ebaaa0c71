"""``clickstream cost``: what the pipeline cost, per asset and per day, from its own records.

SQL cost comes from the QueryCostUSD metric every SQL asset publishes (Athena's bill on AWS; on the local profile
the bytes DuckDB was given, priced as Athena would bill them: an estimate). Firehose cost comes from the producer
runs' billed bytes (each record rounded up to 5 KB); storage from the bytes in each table's files.
"""

from __future__ import annotations

from collections import defaultdict

from clickstream_assets.ledger import read_producer_runs
from resources.metrics import Metrics
from resources.pricing import s3_month_cost
from resources.storage import Storage

TABLES = ("events", "quarantine", "staged_events", "sessions", "funnel_daily", "product_performance_daily",
          "user_engagement_daily", "traffic_sources_daily", "retention_weekly")


def cost_report(storage: Storage, metrics: Metrics, hours: float) -> dict:
    points = metrics.recent("QueryCostUSD", hours=hours)
    latest: dict[tuple[str, str], float] = {}
    for p in points:  # newest first: a partition rebuilt twice costs twice, but the report shows its last build
        latest.setdefault((p.dimensions.get("Asset", "?"), p.dimensions.get("Partition", "all")), p.value)
    by_asset: dict[str, float] = defaultdict(float)
    by_day: dict[str, float] = defaultdict(float)
    for (asset, partition), value in latest.items():
        by_asset[asset] += value
        by_day[partition] += value
    runs = read_producer_runs(storage)
    firehose = {"runs": len(runs), "billed_bytes": sum(r.get("firehose_billed_bytes", 0) for r in runs),
                "usd": round(sum(r.get("firehose_cost_usd", 0.0) for r in runs), 6)}
    stored = {t: sum(o.size for o in storage.list("processed", f"{t}/")) for t in TABLES}
    stored["raw JSON"] = sum(o.size for o in storage.list("raw", "events/"))
    return {
        "sql_usd_by_asset": {k: round(v, 6) for k, v in sorted(by_asset.items())},
        "sql_usd_by_day": {k: round(v, 6) for k, v in sorted(by_day.items())},
        "firehose": firehose,
        "storage_bytes": stored,
        "storage_usd_per_month": round(sum(s3_month_cost(b) for b in stored.values()), 6),
        "total_usd": round(sum(by_asset.values()) + firehose["usd"], 6),
    }


def print_report(report: dict, out=print) -> None:
    out(f"{'asset':<40} {'SQL $ (Athena price)':>22}")
    for asset, usd in report["sql_usd_by_asset"].items():
        out(f"{asset:<40} {usd:>22.6f}")
    out(f"\n{'day':<40} {'SQL $':>22}")
    for day, usd in report["sql_usd_by_day"].items():
        out(f"{day:<40} {usd:>22.6f}")
    f = report["firehose"]
    out(f"\nFirehose ingestion: {f['runs']} producer runs, {f['billed_bytes']:,} billed bytes, ${f['usd']:.4f}")
    out("storage:")
    for table, size in report["storage_bytes"].items():
        if size:
            out(f"  {table:<38} {size:>14,} bytes")
    out(f"  {'S3 per month':<38} ${report['storage_usd_per_month']:.4f}")
    out(f"\ntotal (SQL + Firehose): ${report['total_usd']:.4f}")
