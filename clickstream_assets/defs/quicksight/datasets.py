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
        description=f"Dataset over the {model} table (QuickSight on AWS, a dataset file locally).",
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
        "The dashboard: funnel by device and channel, conversion over time, top products, engagement, traffic "
        "sources, retention heatmap and the pipeline's own health. Built from the definition in "
        "clickstream_assets/dashboard.json; locally a self-contained HTML page."
    ),
)
def dashboard(engine: Engine, storage: Storage, dashboards: Dashboards, metrics: Metrics) -> dg.MaterializeResult:
    definition = json.loads(DEFINITION.read_text())
    data, scanned = {}, 0
    for section in definition["sections"]:
        if "query" in section:
            table, stats = engine.query(section["query"], {})
            data[section["id"]] = table.to_pylist()
            scanned += stats.bytes_scanned
    metadata = dashboards.publish_dashboard(definition, data, pipeline_health(storage, metrics))
    return dg.MaterializeResult(
        metadata={**metadata, "sections": len(definition["sections"]), "bytes_scanned (estimate)": scanned}
    )


dataset_assets = [dataset_asset(m.name, m.partitioned) for m in MODELS]
