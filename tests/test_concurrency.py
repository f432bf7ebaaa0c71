"""Idempotency and concurrency: the same partition three times is identical; overlapping backfills at once end
consistent (no duplicate rows, no lost partition)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from clickstream_assets.ledger import (
    MANIFESTS,
    SealManifest,
    now_iso,
    read_ledgers,
    read_manifests,
    write_manifests,
)
from resources.storage import LocalStorage
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



class SlowWrites(LocalStorage):
    """A slow disk: a wide window between reading a day's manifests and writing them back."""

    def write_many(self, area, objects):
        time.sleep(0.3)
        super().write_many(area, objects)


def test_seals_of_different_hours_of_one_day_at_the_same_time_keep_every_hours_manifest(tmp_path):
    """A day's manifests share one file: two seals of its hours at once must not drop each other's."""
    storage = SlowWrites(warehouse=str(tmp_path / "w"))
    sealed = [SealManifest(f"2026-11-02-{h:02d}", now_iso(), records=h, by_day={"2026-11-02": h}) for h in range(24)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda half: write_manifests(storage, half), [sealed[:12], sealed[12:]]))
    manifests = read_manifests(storage, ["2026-11-02"])
    assert sorted(manifests) == [m.arrival_hour for m in sealed]
    assert sum(m.records for m in manifests.values()) == sum(range(24))
    # A manifest per hour, as seals wrote them before (a warehouse of an earlier version), still counts, and the next
    # seal of its day carries it over into the day's file.
    old = SealManifest("2026-11-03-05", "2026-11-03T06:00:00.000+00:00", records=7, by_day={"2026-11-03": 7})
    storage.write_bytes("processed", f"{MANIFESTS}/2026-11-03-05.json", json.dumps(asdict(old)).encode())
    assert read_manifests(storage, ["2026-11-03"]) == {"2026-11-03-05": old}
    write_manifests(storage, [SealManifest("2026-11-03-06", now_iso())])
    kept = json.loads(storage.read_bytes("processed", f"{MANIFESTS}/2026-11-03.json"))["hours"]
    assert sorted(kept) == ["2026-11-03-05", "2026-11-03-06"] and kept["2026-11-03-05"]["records"] == 7
