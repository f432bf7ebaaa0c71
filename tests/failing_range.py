"""Sixty days of two assets in one run, the second failing after the first built every day. Each day's events go to
the storage in batches (resources/dagster_events.py), and the failed days must still read as failed, not as missing.
``python -m tests.failing_range <dagster home>`` runs it on that instance in a process of its own and prints the run
id and whether it succeeded."""

from __future__ import annotations

import sys

import dagster as dg

DAYS = dg.DailyPartitionsDefinition(start_date="2026-05-01", end_date="2026-06-30")
RANGE = {"dagster/asset_partition_range_start": "2026-05-01", "dagster/asset_partition_range_end": "2026-06-29"}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(),
          check_specs=[dg.AssetCheckSpec("rows_positive", asset="clean")])
def clean():
    yield dg.MaterializeResult(metadata={"rows": 3})
    yield dg.AssetCheckResult(check_name="rows_positive", passed=True)


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[clean])
def sessions() -> dg.MaterializeResult:
    raise RuntimeError("the sessions model broke")


# A code location of its own, for the webserver that shows what the range recorded.
defs = dg.Definitions(assets=[clean, sessions])


def run_failing_range(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, raise_on_error=False, tags=RANGE)


if __name__ == "__main__":
    from dagster._core.instance.ref import InstanceRef

    result = run_failing_range(dg.DagsterInstance.from_ref(InstanceRef.from_dir(sys.argv[1])))
    print(result.run_id, result.success)
