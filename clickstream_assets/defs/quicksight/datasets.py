"""``quicksight/…``: a dataset per model and the dashboard, regenerated whenever a dataset changes."""

import json
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from clickstream_assets import automation
from clickstream_assets.defs.freshness.checks import policy
from clickstream_assets.defs.processed.completeness import read_report
from clickstream_assets.defs.processed.models import MODELS
from clickstream_assets.ledger import read_ledgers, read_manifests
from clickstream_assets.lineage import passthrough
from resources.alarms import ALARMS
from resources.dashboard_spec import DashboardInputs, validate
from resources.dashboards import Dashboards
from resources.engine import Engine
from resources.metrics import Metrics
from resources.storage import Storage

DEFINITION = Path(__file__).with_name("dashboard.json")


def dataset_asset(model: str, partitioned: bool) -> dg.AssetsDefinition:
    @dg.asset(
        name=model,
        key_prefix=["quicksight"],
        group_name="quicksight",
        kinds={"quicksight"},
        deps=[dg.AssetDep(["glue", model])],
        automation_condition=automation.over_days() if partitioned else dg.AutomationCondition.eager(),
        # Not read by the dashboard (it has its own custom-SQL datasets): one per model for analyses of the user's own.
        # DIRECT_QUERY, so publishing it runs no Athena query.
        description=f"Dataset over the {model} table for your own analyses (QuickSight on AWS, a dataset file "
                    "locally); the dashboard reads its own datasets.",
    )
    def _dataset(engine: Engine, dashboards: Dashboards) -> dg.MaterializeResult:
        metadata = dashboards.publish_dataset(model, engine.table_def(model))
        metadata["dagster/column_lineage"] = passthrough(model, dg.AssetKey(["glue", model]))
        return dg.MaterializeResult(metadata=metadata)

    return _dataset


def pipeline_health(storage: Storage, metrics: Metrics | None = None) -> dict:
    """The ledger per day and how fresh the data is: what the dashboard's health section shows."""
    ledgers = read_ledgers(storage)
    manifests = read_manifests(storage)
    days = [
        {"dt": d.dt, "taken": d.taken, "clean": d.clean, "duplicates": d.duplicates, "quarantined": d.quarantined,
         "late": d.late, "quarantine_rate": d.quarantined / d.taken if d.taken else 0.0, "reconciles": d.reconciles}
        for d in sorted(ledgers.values(), key=lambda d: d.dt)
    ]
    now = datetime.now(timezone.utc)
    freshness = {
        "events clean": sum(d["clean"] for d in days),
        "last sealed arrival hour": max(manifests) if manifests else "none",
        "last built day": days[-1]["dt"] if days else "none",
        "last build": max((d.built_at for d in ledgers.values()), default="never"),
        "checked at": now.strftime("%Y-%m-%d %H:%M UTC"),
    }
    alarms = []
    if metrics is not None:
        recent = metrics.recent(hours=24)
        alarms = [{"name": a.name, "state": state, "reason": reason}
                  for a in ALARMS for state, reason in [a.evaluate(recent, now)]]
    report = read_report(storage)
    ledger = {"totals": report["totals"], "gaps": report["gaps"]} if report else None
    return {"days": days, "freshness": freshness, "alarms": alarms, "ledger": ledger}


@dg.asset(
    key=["quicksight", "dashboard"],
    group_name="quicksight",
    kinds={"quicksight", "html"},
    deps=[dg.AssetDep(["quicksight", m.name]) for m in MODELS] + [dg.AssetDep(["processed", "completeness"])],
    automation_condition=automation.last(),
    freshness_policy=policy("quicksight", "dashboard"),
    description=(
        "The dashboard: KPIs, sessions and conversion, revenue, funnels by device and channel, traffic, "
        "engagement, top products, retention, paths, lifecycle and the pipeline's own health, with date, device "
        "and channel filters. One definition (clickstream_assets/defs/quicksight/dashboard.json) drives both twins: locally a "
        "self-contained HTML page that embeds the rows it filters; on AWS a QuickSight dashboard over custom-SQL "
        "datasets, which queries Athena itself (so this asset runs no dashboard query there)."
    ),
)
def dashboard(context: dg.AssetExecutionContext, engine: Engine, storage: Storage, dashboards: Dashboards,
              metrics: Metrics) -> dg.MaterializeResult:
    definition = load_definition()
    scanned = 0

    def rows(dataset: dict) -> list[dict] | None:
        nonlocal scanned
        try:
            table, stats = engine.query(dataset["query"], {})
        except LookupError as missing:  # the model is not built (or not in this code base) yet
            context.log.info(f"dashboard dataset {dataset['id']}: {missing}")
            return None
        scanned += stats.bytes_scanned
        return table.to_pylist()

    inputs = DashboardInputs(definition, rows, lambda: pipeline_health(storage, metrics),
                             frozenset(m.name for m in MODELS))
    metadata = dashboards.publish_dashboard(inputs)
    return dg.MaterializeResult(
        metadata={**metadata, "sections": len(definition["sections"]), "bytes_scanned (estimate)": scanned}
    )


def load_definition() -> dict:
    return validate(json.loads(DEFINITION.read_text()))


dataset_assets = [dataset_asset(m.name, m.partitioned) for m in MODELS]
