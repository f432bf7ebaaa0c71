"""``processed/<model>``: one asset per SQL file in ``sql/models/``, written as Parquet and checked.

Each model is rebuilt whole per day (or whole, when unpartitioned), so re-runs and backfills never duplicate rows.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

import dagster as dg
import pyarrow.parquet as pq

from clickstream_assets import automation
from clickstream_assets.defs.freshness.checks import policy
from clickstream_assets.defs.glue.tables import table_asset
from clickstream_assets.defs.processed.bookkeeping import failures_counted, query_points
from clickstream_assets.defs.processed.checks import scan_budget, scan_budget_spec
from clickstream_assets.lineage import derived, described
from clickstream_assets.partitions import daily_event, per_day_detail
from clickstream_assets.settings import PipelineSettings
from resources.engine import Engine, WriteResult
from resources.metrics import Metrics, points
from resources.sql import sql_summary
from resources.storage import Storage


@dataclass(frozen=True)
class ModelCheck:
    name: str
    sql_file: str
    description: str
    blocking: bool = True


@dataclass(frozen=True)
class Model:
    name: str
    reads: list[str]  # tables the SQL reads (each a processed/… asset upstream, by the same day when daily)
    partitioned: bool = True
    checks: list[ModelCheck] = field(default_factory=list)

    @property
    def sql_file(self) -> str:
        return f"models/{self.name}.sql"

    @property
    def description(self) -> str:
        return sql_summary(self.sql_file)


MODELS = [
    Model("sessions", ["events"], checks=[
        ModelCheck("every_event_in_one_session", "checks/sessions_reconcile.sql",
                   "Every clean event belongs to exactly one session row; no session appears twice."),
    ]),
    Model("funnel_daily", ["sessions"], checks=[
        ModelCheck("funnel_monotone", "checks/funnel_monotone.sql",
                   "Each funnel step holds no more sessions than the one before; rates lie in [0, 1]."),
    ]),
    Model("product_performance_daily", ["events"], checks=[
        ModelCheck("product_totals_match_events", "checks/product_totals.sql",
                   "Product totals equal the product events they were counted from."),
    ]),
    Model("user_engagement_daily", ["sessions"], checks=[
        ModelCheck("engagement_rates_valid", "checks/engagement_rates.sql",
                   "Rates lie in [0, 1]; new + returning cover the actives; 7- and 30-day actives nest."),
    ]),
    Model("traffic_sources_daily", ["sessions"], checks=[
        ModelCheck("traffic_covers_sessions", "checks/traffic_totals.sql",
                   "Every session is attributed to exactly one channel and referring site."),
    ]),
    Model("orders", ["events", "sessions"], checks=[
        ModelCheck("orders_unique", "checks/orders_unique.sql",
                   "Each order appears once, with at least one line, units >= lines and no negative value."),
    ]),
    Model("orders_daily", ["orders", "sessions"], checks=[
        ModelCheck("orders_match_purchase_lines", "checks/orders_reconcile.sql",
                   "Orders, units and revenue equal the purchase lines of the clean events, counted directly."),
    ]),
    Model("attribution_daily", ["orders", "sessions"], checks=[
        ModelCheck("attribution_credits_every_order_once", "checks/attribution_totals.sql",
                   "Per day, each attribution model's conversions and revenue equal the day's orders and revenue."),
    ]),
    Model("paths_daily", ["events"], checks=[
        ModelCheck("paths_start_every_session", "checks/paths_conserve.sql",
                   "Every session starts a path at step 1; no step holds more sessions than the one before."),
    ]),
    Model("lifecycle_weekly", ["sessions"], partitioned=False, checks=[
        ModelCheck("lifecycle_partitions_users", "checks/lifecycle_partition.sql",
                   "Each week, new + returning + resurrecting + dormant = the users seen so far."),
    ]),
    Model("retention_weekly", ["sessions"], partitioned=False, checks=[
        ModelCheck("retention_bounds", "checks/retention_bounds.sql",
                   "Rates lie in [0, 1]; week 0 holds the whole cohort."),
    ]),
]


def _preview(engine: Engine, storage: Storage, target: str, result: WriteResult, rows: int = 5) -> str:
    for value, written in result.partitions.items():
        if written.rows:
            # The engine knows which files hold the partition (Athena names its own); the first one will do.
            path = engine.data_files(target, [value])[value][0]
            with storage.filesystem().open_input_file(path) as handle:
                table = pq.read_table(handle).slice(0, rows)
            header = "| " + " | ".join(table.column_names) + " |"
            lines = [header, "|" + "---|" * table.num_columns]
            for record in table.to_pylist():
                lines.append("| " + " | ".join(_cell(v) for v in record.values()) + " |")
            return "\n".join(lines)
    return "(no rows)"


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")[:60]


def model_asset(model: Model) -> dg.AssetsDefinition:
    key = dg.AssetKey(["processed", model.name])
    specs = [
        dg.AssetCheckSpec(c.name, asset=key, blocking=c.blocking, description=c.description) for c in model.checks
    ] + [scan_budget_spec(key)]

    @dg.asset(
        key=key,
        group_name="processed",
        kinds={"parquet", "sql"},
        partitions_def=daily_event if model.partitioned else None,
        deps=[dg.AssetDep(["processed", table]) for table in model.reads],
        backfill_policy=dg.BackfillPolicy.single_run() if model.partitioned else None,
        check_specs=specs,
        automation_condition=automation.daily() if model.partitioned else automation.over_days(),
        freshness_policy=policy("processed", model.name),
        description=model.description,
        metadata=described(model.name, derived(model.name, model.reads)),
    )
    def _model(
        context: dg.AssetExecutionContext, engine: Engine, storage: Storage, metrics: Metrics,
        settings: PipelineSettings,
    ) -> Iterator:
        days = list(context.partition_keys) if model.partitioned else []
        params = {"first_day": min(days), "last_day": max(days)} if days else {}
        params.update(settings.page_params())  # only the SQL that names a pattern receives it
        asset = key.to_user_string()
        with failures_counted(metrics, asset):
            result = engine.materialize(model.sql_file, params, model.name, days)
        metrics.put(points({"Rows": result.rows}, Asset=asset) + query_points(asset, result))
        yield dg.MaterializeResult(
            metadata={
                "rows": dg.MetadataValue.int(result.rows),
                "bytes": dg.MetadataValue.int(result.bytes),
                "partitions_written": len(result.partitions),
                # A day with no clean events builds empty and passes its checks: a gap, not an error.
                "empty_days": ", ".join(sorted(k for k, v in result.partitions.items() if not v.rows)) or "none",
                "preview": dg.MetadataValue.md(_preview(engine, storage, model.name, result)),
                **per_day_detail(days, {
                    "s3_bytes_by_partition": {k: v.bytes for k, v in result.partitions.items()},
                    **described(model.name, derived(model.name, model.reads)),
                }),
                **result.stats.as_metadata(),
            }
        )
        for check in model.checks:
            found, _ = engine.query(check.sql_file, params, partitions={model.name: days})
            row = found.to_pylist()[0]
            yield dg.AssetCheckResult(
                check_name=check.name,
                asset_key=key,
                passed=row["violations"] == 0,
                metadata={k: v if isinstance(v, (int, float, str)) else str(v) for k, v in row.items()},
            )
        yield scan_budget(key, result.stats.bytes_scanned, settings.budget_for(asset))

    return _model


def model_table_asset(model: Model) -> dg.AssetsDefinition:
    return table_asset(model.name, ["processed", model.name], f"Catalog table of processed/{model.name}.",
                       over_days=model.partitioned)


model_assets = [model_asset(m) for m in MODELS]
model_tables = [model_table_asset(m) for m in MODELS]
