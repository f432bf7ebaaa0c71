"""Materialize partition ranges in one run each, in-process, on a real Dagster instance.

A Dagster run costs seconds before any work, so the CLI, the demo and the tests never launch a run per
partition: each calendar's range goes through one single-run backfill (BackfillPolicy.single_run()).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from clickstream_assets.partitions import hour_key


@dataclass
class StepOutcome:
    name: str
    success: bool
    checks: dict[str, bool] = field(default_factory=dict)  # "asset/key:check" -> passed
    blocking_failed: list[str] = field(default_factory=list)
    freshness: dict[str, bool] = field(default_factory=dict)  # lag checks: about time, not about this build
    run_id: str = ""
    error: str = ""


def materialize(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    keys: Sequence[Sequence[str]],
    first: str | None = None,
    last: str | None = None,
    name: str = "",
    log_level: str = "ERROR",
) -> StepOutcome:
    """One run over ``keys`` for partitions ``first..last`` (both None for unpartitioned assets)."""
    job = defs.resolve_implicit_global_asset_job_def()
    tags = {"clickstream/step": name} if name else {}
    if first is not None:
        tags.update({ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last or first})
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(list(k)) for k in keys],
        tags=tags,
        raise_on_error=False,
        # The instance keeps every event for the UI; the terminal only needs errors.
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    outcome = StepOutcome(name=name, success=result.success, run_id=result.run_id)
    graph = defs.resolve_asset_graph()
    for event in result.get_asset_check_evaluations():
        label = f"{event.asset_key.to_user_string()}:{event.check_name}"
        if event.check_name == "freshness_lag":
            outcome.freshness[label] = event.passed
            continue
        outcome.checks[label] = event.passed
        if not event.passed and graph.get_check_spec(event.asset_check_key).blocking:
            outcome.blocking_failed.append(label)
    if not result.success:
        messages = []
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
                error = event.step_failure_data.error
                while error.cause is not None:  # the user's problem is the root cause, not Dagster's wrapper
                    error = error.cause
                messages.append(f"{event.step_key}: {(error.message.strip().splitlines() or [''])[0]}")
        outcome.error = "; ".join(messages)
    return outcome


def hour_range(first_day: date, last_day: date, now: datetime | None = None) -> tuple[str, str] | None:
    """Arrival hours from the first day through two days after the last (late records keep arriving after a day),
    up to the open hour: what is in it now is sealed too, so imported history never waits for an hour to close.
    The arrival sensor seals the hour again once it closes if more arrived, and rebuilds the days it feeds."""
    now = now or datetime.now(timezone.utc)
    open_hour = now.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    start = datetime(first_day.year, first_day.month, first_day.day)
    end = min(datetime(last_day.year, last_day.month, last_day.day) + timedelta(days=2), open_hour)
    if end < start:
        return None
    return hour_key(start.strftime("%Y-%m-%d-%H")), hour_key(end.strftime("%Y-%m-%d-%H"))
