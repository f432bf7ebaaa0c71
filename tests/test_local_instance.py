"""The local profile's Dagster instance: Dagster's SQLite storage with its event log connections kept open. What
one process records, another (the UI, the daemon) reads; nothing the UI shows is lost for the speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from resources.dagster_instance import (
    PREVIOUS_INSTANCE_YAML,
    PooledSqliteEventLogStorage,
    write_instance_yaml,
)
from tests.failing_range import DAYS

ROOT = Path(__file__).resolve().parent.parent

RUN_A_RANGE = """
import sys
import dagster as dg
from dagster._core.instance.ref import InstanceRef

days = dg.DailyPartitionsDefinition(start_date="2026-05-01", end_date="2026-06-30")

@dg.asset(partitions_def=days, backfill_policy=dg.BackfillPolicy.single_run())
def clean() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 3})

@dg.asset(partitions_def=days, backfill_policy=dg.BackfillPolicy.single_run(), deps=[clean])
def sessions() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})

instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(sys.argv[1]))
job = dg.Definitions(assets=[clean, sessions]).resolve_implicit_global_asset_job_def()
result = job.execute_in_process(instance=instance, tags={
    "dagster/asset_partition_range_start": "2026-05-01", "dagster/asset_partition_range_end": "2026-06-29"})
print(type(instance.event_log_storage).__name__, result.run_id, result.success)
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster"
    home.mkdir()
    write_instance_yaml(home)
    return home


def test_a_range_recorded_in_one_process_is_read_whole_by_another(home: Path):
    run = subprocess.run([sys.executable, "-c", RUN_A_RANGE, str(home)], capture_output=True, text=True, check=True)
    storage_class, run_id, success = run.stdout.split()
    assert storage_class == "PooledSqliteEventLogStorage" and success == "True"

    reader = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))  # as the webserver opens it
    try:
        for key in ("clean", "sessions"):
            materialized = reader.get_materialized_partitions(dg.AssetKey(key))
            assert len(materialized) == 60 and min(materialized) == "2026-05-01" and max(materialized) == "2026-06-29"
        planned = reader.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=1000).records
        assert len(planned) == 120  # one per asset and day: the UI can tell a failed day from a missing one
        latest = reader.get_latest_materialization_event(dg.AssetKey("clean"))
        assert latest.asset_materialization.metadata["rows"].value == 3
        assert latest.asset_materialization.partition == "2026-06-29"
    finally:
        reader.dispose()


def test_days_a_failed_run_planned_but_did_not_build_read_as_failed(home: Path):
    run = subprocess.run([sys.executable, "-m", "tests.failing_range", str(home)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    run_id, success = run.stdout.split()
    assert success == "False"

    from dagster._core.storage.partition_status_cache import AssetPartitionStatus

    reader = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    try:
        days = DAYS.get_partition_keys()[:60]
        built = reader.get_status_by_partition(dg.AssetKey("clean"), days, DAYS)
        broken = reader.get_status_by_partition(dg.AssetKey("sessions"), days, DAYS)
        assert set(built.values()) == {AssetPartitionStatus.MATERIALIZED}
        assert set(broken.values()) == {AssetPartitionStatus.FAILED}  # every day of the range, none missing
        latest = reader.get_latest_materialization_event(dg.AssetKey("clean"))
        assert latest.run_id == run_id and latest.asset_materialization.partition == "2026-06-29"
        # The check was planned for each day of the range, as Dagster records a partitioned check.
        records = reader.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("clean"), "rows_positive"), limit=1000)
        assert sorted(r.partition for r in records if r.partition) == days
    finally:
        reader.dispose()


def test_wiping_the_instance_clears_what_it_recorded(home: Path):
    subprocess.run([sys.executable, "-c", RUN_A_RANGE, str(home)], capture_output=True, text=True, check=True)
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    try:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert len(instance.get_materialized_partitions(dg.AssetKey("clean"))) == 60
        instance.wipe()
        assert not instance.get_materialized_partitions(dg.AssetKey("clean"))
        assert not list((home / "history" / "runs").glob("[0-9a-f]*-*.db"))  # the run's own file is gone
    finally:
        instance.dispose()


def test_the_instance_file_is_written_once_and_a_users_own_is_left_alone(tmp_path: Path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    write_instance_yaml(mine)
    assert (mine / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"

    older = tmp_path / "older"  # what make demo wrote before this storage existed: upgraded, same files
    older.mkdir()
    (older / "dagster.yaml").write_text(PREVIOUS_INSTANCE_YAML)
    write_instance_yaml(older)
    assert "PooledSqliteEventLogStorage" in (older / "dagster.yaml").read_text()
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(older)))
    try:
        assert instance.event_log_storage._base_dir == str(older / "history" / "runs")
    finally:
        instance.dispose()
