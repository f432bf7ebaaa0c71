"""Nothing lost when things fail: Firehose faults, a write failing mid-partition, a process killed mid-build."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import boto3
import dagster as dg
import pyarrow.parquet as pq
import pytest

from clickstream_assets.cli.runs import run_assets
from clickstream_assets.definitions import build_definitions
from clickstream_assets.ledger import read_ledgers
from clickstream_assets.producer.runner import produce_historical
from clickstream_assets.producer.simulator import Mess
from resources.engine import DuckDBEngine
from resources.faults import FaultyFirehoseClient
from resources.profile import build_resources
from resources.sinks import FirehoseSink
from resources.storage import LocalStorage
from tests.pipeline import DAYS, Pipeline, digests, hold_back

ROOT = Path(__file__).resolve().parent.parent
START = date(2026, 11, 2)


@pytest.mark.parametrize("failure_rate", [0.1, 0.5])
def test_firehose_faults_lose_nothing_and_leave_no_duplicate(aws, failure_rate):
    moto, names = aws
    client = FaultyFirehoseClient(boto3.client("firehose", endpoint_url=moto), record_failure_rate=failure_rate,
                                  throttle_rate=0.1, ghost_rate=0.02, seed=3)
    sink = FirehoseSink(client, names["stream"], max_attempts=30, sleep=lambda s: None, seed=3)
    day = datetime.now(timezone.utc).date() - timedelta(days=2)
    sent = produce_historical(sink, day, 1, 2_000, seed=9, mess=Mess(duplicate_rate=0.01))
    assert sent.error is None and sent.failed == 0 and client.failed_records > 0 and client.ghost_records > 0
    now = datetime.now(timezone.utc)
    resources = build_resources("aws")
    defs = build_definitions(resources)
    instance = dg.DagsterInstance.ephemeral()
    sealed = run_assets(defs, instance, [["raw", "events"]],
                         (now - timedelta(hours=1)).date().isoformat(),
                         now.date().isoformat())
    built = run_assets(defs, instance, [["processed", "events"], ["processed", "quarantine"]],
                        day.isoformat(), (day + timedelta(days=1)).isoformat())
    assert sealed.success and built.success and not built.blocking_failed, (sealed.error, built.error)
    ledgers = read_ledgers(resources["storage"])
    clean = sum(d.clean for d in ledgers.values())
    assert clean == sent.produced  # every produced event exactly once
    assert sum(d.duplicates for d in ledgers.values()) == sent.injected_duplicates + client.ghost_records
    assert all(d.reconciles for d in ledgers.values())


class FailingStorage(LocalStorage):
    """Local storage that cannot replace one partition file, as a full disk or a lost bucket would: the run has
    already replaced the partitions before it."""

    fail_on: str = "/events/dt=2026-11-03/"

    def put_uri(self, uri, data=None, local_file=None, **options):
        if self.fail_on in uri:
            raise OSError(f"injected: could not write {uri.rsplit('/', 2)[-2]}")
        return super().put_uri(uri, data, local_file, **options)


def test_a_write_failing_mid_partition_keeps_the_previous_version_and_a_rerun_converges(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(START, 2, 800, mess=Mess(late_rate=0.3))
    deliver_later = hold_back(pipeline.warehouse, datetime(2026, 11, 3, 6))
    assert pipeline.seal_days(date(2026, 11, 2), date(2026, 11, 3)).success
    assert pipeline.build("2026-11-02", "2026-11-03").success
    before = digests(pipeline.warehouse, "events")
    rows_before = {d[3:]: pq.read_metadata(pipeline.parquet("events", d[3:])).num_rows for d in before}
    # Late records arrive; the rebuild's second partition write fails.
    deliver_later()
    assert pipeline.seal_days(date(2026, 11, 3), date(2026, 11, 4)).success
    undisturbed = tmp_path / "undisturbed"
    shutil.copytree(pipeline.warehouse, undisturbed)
    failing = dict(pipeline.resources)
    failing["storage"] = FailingStorage(warehouse=str(pipeline.warehouse))
    failing["engine"] = DuckDBEngine(storage=failing["storage"], catalog=pipeline.resources["catalog"])
    outcome = run_assets(build_definitions(failing), pipeline.instance, DAYS, "2026-11-02", "2026-11-03")
    assert not outcome.success and "injected: could not write dt=2026-11-03" in outcome.error
    after = digests(pipeline.warehouse, "events")
    assert after["dt=2026-11-03"] == before["dt=2026-11-03"]  # the old version, whole
    assert pq.read_metadata(pipeline.parquet("events", "2026-11-03")).num_rows == rows_before["2026-11-03"]
    assert not list((pipeline.warehouse / "processed").rglob("*.tmp"))  # no partial file anywhere
    # The re-run gives what an undisturbed run gives, byte for byte.
    assert pipeline.build("2026-11-02", "2026-11-03").success
    calm = Pipeline(undisturbed)
    assert calm.build("2026-11-02", "2026-11-03").success
    assert digests(pipeline.warehouse, "events") == digests(undisturbed, "events")
    assert digests(pipeline.warehouse, "quarantine") == digests(undisturbed, "quarantine")


def test_an_engine_error_fails_the_run_clearly_and_leaves_the_data_alone(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(START, 1, 500)
    assert pipeline.seal_days(date(2026, 11, 2)).success
    assert pipeline.build("2026-11-02").success
    before = digests(pipeline.warehouse, "events")
    broken = dict(pipeline.resources)
    broken["engine"] = DuckDBEngine(storage=pipeline.resources["storage"], catalog=pipeline.resources["catalog"],
                                    memory_limit="1KB")
    outcome = run_assets(build_definitions(broken), pipeline.instance, DAYS, "2026-11-02", "2026-11-02")
    assert not outcome.success and "memory" in outcome.error.lower()
    assert digests(pipeline.warehouse, "events") == before


KILLED_BUILD = textwrap.dedent("""
    import sys
    from tests.pipeline import Pipeline
    from pathlib import Path
    pipeline = Pipeline(Path(sys.argv[1]))
    print("building", flush=True)
    assert pipeline.build("2026-11-02", "2026-11-04").success
""")


def test_a_build_killed_midway_leaves_whole_files_and_a_rerun_converges(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(START, 3, 20_000)
    assert pipeline.seal(START, date(2026, 11, 4)).success
    undisturbed = tmp_path / "undisturbed"
    shutil.copytree(pipeline.warehouse, undisturbed)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(pipeline.warehouse)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "building"
    scratch = pipeline.warehouse / "tmp"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(scratch.glob(".events-*.parquet")):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for path in (pipeline.warehouse / "processed" / "events").glob("dt=*/part-0.parquet"):
        assert pq.read_metadata(path).num_rows > 0  # whatever is visible is a whole file
    assert pipeline.build("2026-11-02", "2026-11-04").success
    assert Pipeline(undisturbed).build("2026-11-02", "2026-11-04").success
    assert digests(pipeline.warehouse, "events") == digests(undisturbed, "events")
