"""The producer as a job: one bounded slice of live traffic per run, and the sensor that keeps slices coming."""

import json
import time
from datetime import datetime, timezone

import dagster as dg

from clickstream_assets.ledger import record_producer_run
from clickstream_assets.settings import PipelineSettings
from resources.delivery import Delivery
from resources.metrics import Metrics, points
from resources.storage import Storage


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


IN_PROGRESS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


@dg.sensor(
    job=producer_job,
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=10,
    description="While on, launches the next bounded producer slice whenever none is running: continuous traffic.",
)
def producer_sensor(context: dg.SensorEvaluationContext, settings: PipelineSettings):
    active = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=producer_job.name, statuses=IN_PROGRESS), limit=1
    )
    if active:
        return dg.SkipReason(f"slice {active[0].run_id[:8]} is still running")
    # The slice's start time is its identity: run keys and seed offsets never repeat, so neither do event ids.
    offset = max(int(time.time()), int(context.cursor or 0) + 1)
    context.update_cursor(str(offset))
    rate, seconds = settings.producer_rate, settings.producer_slice_seconds
    return dg.RunRequest(
        run_key=f"producer-slice-{offset}",
        run_config={"ops": {"produce_slice": {"config": {"rate": rate, "seconds": seconds, "seed_offset": offset}}}},
    )
