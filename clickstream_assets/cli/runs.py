"""Run the plan's steps (or any assets) in-process, one run per partition range, on a real Dagster instance.

A Dagster run costs seconds before any work, so the CLI, the demo and the tests never launch a run per
partition: each calendar's range goes through one single-run backfill (BackfillPolicy.single_run()).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import dagster as dg

from clickstream_assets.defs.plan import PLAN, Step, range_tags


@dataclass
class StepOutcome:
    name: str
    success: bool
    checks: dict[str, bool] = field(default_factory=dict)  # "asset/key:check" -> passed
    blocking_failed: list[str] = field(default_factory=list)
    freshness: dict[str, bool] = field(default_factory=dict)  # lag checks: about time, not about this build
    run_id: str = ""
    error: str = ""


def run_assets(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    keys: Sequence[Sequence[str] | dg.AssetKey],
    first: str | None = None,
    last: str | None = None,
    name: str = "",
    log_level: str = "ERROR",
) -> StepOutcome:
    """One run over ``keys`` for partitions ``first..last`` (both None for unpartitioned assets)."""
    job = defs.resolve_implicit_global_asset_job_def()
    selection = [k if isinstance(k, dg.AssetKey) else dg.AssetKey(list(k)) for k in keys]
    return _execute(defs, instance, job, selection, first, last, name, log_level)


def run_step(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    step: Step,
    first: str | None = None,
    last: str | None = None,
    log_level: str = "ERROR",
) -> StepOutcome:
    """One step of the plan as a run of its job, so the UI shows which step it was."""
    return _execute(defs, instance, defs.resolve_job_def(step.job_name), None, first, last, step.name, log_level)


def _execute(defs, instance, job, selection, first, last, name, log_level) -> StepOutcome:
    tags = {"clickstream/step": name} if name else {}
    if first is not None:
        tags.update(range_tags(first, last))
    result = job.execute_in_process(
        instance=instance,
        asset_selection=selection,
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
        outcome.error = "; ".join(_root_causes(result))
    return outcome


def _root_causes(result: dg.ExecuteInProcessResult) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None:  # the user's problem is the root cause, not Dagster's wrapper
                error = error.cause
            messages.append(f"{event.step_key}: {(error.message.strip().splitlines() or [''])[0]}")
    return messages


def run_plan(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    arrival_days: tuple[str, str],
    days: tuple[str, str] | Callable[[], tuple[str, str]],
    out: Callable[[str], None] | None = None,
) -> list[StepOutcome]:
    """The four steps in order, stopping at the first that fails: seal ``arrival_days``, then build event ``days``
    (a function, read after sealing: sealed hours can hold records of days after the ones asked for)."""
    outcomes = []
    for step in PLAN:
        if step.partitions_def is None:
            first, last = None, None
        elif step is PLAN[0]:
            first, last = arrival_days
        else:
            first, last = days() if callable(days) else days
        started = datetime.now(timezone.utc)
        outcome = run_step(defs, instance, step, first, last)
        outcomes.append(outcome)
        if out:
            seconds = (datetime.now(timezone.utc) - started).total_seconds()
            out(f"{step.name:<32} {seconds:5.1f} s  {'ok' if outcome.success else f'FAILED: {outcome.error}'}")
        if not outcome.success:
            break
    return outcomes


def arrival_range(first_day: date, last_day: date, now: datetime | None = None) -> tuple[str, str] | None:
    """Arrival days from the first day through two days after the last (late records keep arriving after a day),
    up to today: what has arrived today is sealed too, so imported history never waits for a day to close. The
    arrival sensor seals today again as more arrives (only the hours that changed) and rebuilds the days it feeds."""
    today = (now or datetime.now(timezone.utc)).date()
    end = min(last_day + timedelta(days=2), today)
    if end < first_day:
        return None
    return first_day.isoformat(), end.isoformat()
