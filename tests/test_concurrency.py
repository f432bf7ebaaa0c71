"""Idempotency and concurrency: the same partition three times is identical; overlapping backfills at once end
consistent (no duplicate rows, no lost partition)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from clickstream_assets.ledger import read_ledgers
from tests.pipeline import Pipeline, digests

ROOT = Path(__file__).resolve().parent.parent
BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tests.pipeline import Pipeline
    outcome = Pipeline(Path(sys.argv[1])).build(sys.argv[2], sys.argv[3])
    print("ok" if outcome.success else outcome.error)
""")


def test_overlapping_backfills_at_the_same_time_end_consistent(tmp_path):
    pipeline = Pipeline(tmp_path / "w")
    pipeline.produce(date(2026, 11, 2), 4, 3_000)
    assert pipeline.seal(date(2026, 11, 2), date(2026, 11, 5)).success
    calm = tmp_path / "calm"
    shutil.copytree(pipeline.warehouse, calm)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ranges = [("2026-11-02", "2026-11-04"), ("2026-11-03", "2026-11-05"), ("2026-11-02", "2026-11-05")]
    procs = [subprocess.Popen([sys.executable, "-c", BUILD, str(pipeline.warehouse), a, b], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, text=True) for a, b in ranges]
    results = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert results == ["ok", "ok", "ok"], results
    days = ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    for day in days:
        ids = pq.read_table(pipeline.parquet("events", day), columns=["event_id"]).column(0).to_pylist()
        assert len(ids) == len(set(ids)) > 0
    ledgers = read_ledgers(pipeline.resources["storage"])
    assert sorted(ledgers) == days and all(d.reconciles for d in ledgers.values())
    catalog = pipeline.resources["catalog"]
    assert set(days) <= set(catalog.partitions("events"))
    assert Pipeline(calm).build("2026-11-02", "2026-11-05").success
    assert digests(pipeline.warehouse, "events") == digests(calm, "events")
