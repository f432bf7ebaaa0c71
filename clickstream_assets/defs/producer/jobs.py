"""Jobs: sealing arrival hours, building event days, producing a live slice, checking freshness."""

import json
from datetime import datetime, timezone

import dagster as dg

from clickstream_assets.defs.freshness.checks import freshness_checks
from clickstream_assets.ledger import record_producer_run
from clickstream_assets.partitions import daily_event, hourly_arrival
from resources.delivery import Delivery
from resources.metrics import Metrics, points
from resources.storage import Storage

seal_hours_job = dg.define_asset_job(
    "seal_hours",
    selection=dg.AssetSelection.assets(["raw", "events"], ["glue", "raw_events"]),
    partitions_def=hourly_arrival,
    description="Seal arrival hours and register them in the catalog.",
)

build_days_job = dg.define_asset_job(
    "build_days",
    selection=dg.AssetSelection.assets(["processed", "events"], ["processed", "quarantine"], ["glue", "events"],
                                       ["glue", "quarantine"]),
    partitions_def=daily_event,
    description="Clean events and quarantine for event days (late records included), with their catalog tables.",
)

freshness_job = dg.define_asset_job(
    "freshness_checks",
    selection=dg.AssetSelection.checks(*freshness_checks),
    description="Measure every key asset's lag, check it against its policy and publish it.",
    # On ECS every run is a Fargate task, and this one runs every 5 minutes even when no data moves: the smallest
    # task (0.25 vCPU, 1 GB) instead of the run task definition's size keeps it a small line of the bill.
    tags={"ecs/cpu": "256", "ecs/memory": "1024"},
)

freshness_schedule = dg.ScheduleDefinition(
    job=freshness_job, cron_schedule="*/5 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)


class SliceConfig(dg.Config):
    """One bounded slice of live traffic."""

    rate: float = 20.0  # events per second
    seconds: float = 60.0
    seed: int = 1
    seed_offset: int = 0  # a new offset gives new sessions and event ids; the sensor never repeats one


@dg.op(description="Produce one slice of live traffic to the profile's sink and record its summary.")
def produce_slice(
    context: dg.OpExecutionContext, config: SliceConfig, delivery: Delivery, metrics: Metrics, storage: Storage
) -> dict:
    from clickstream_assets.producer.runner import produce_live

    summary = produce_live(delivery.open_sink(), config.rate, config.seconds, seed=config.seed,
                           seed_offset=config.seed_offset).as_dict()
    summary["recorded_at"] = datetime.now(timezone.utc).isoformat()
    record_producer_run(storage, summary)
    metrics.put(points({"Produced": summary["produced"], "Delivered": summary["delivered"],
                        "DeliveryFailed": summary["failed"], "Retried": summary["retried"]}, Asset="producer"))
    context.log.info(json.dumps({k: summary[k] for k in ("produced", "delivered", "failed", "retried", "objects")}))
    if summary["error"]:
        raise dg.Failure(description=summary["error"], metadata={"undelivered": summary["failed"]})
    return summary


@dg.job(description="One bounded slice of simulated live traffic; the producer sensor launches the next.")
def producer_job():
    produce_slice()
