"""What a newcomer's Dagster UI would not show green after `make demo`, read from the Dagster instance (not pixels).

The calendar is read once when ``clickstream_assets.partitions`` is imported, from the warehouse's own record, so
the check runs in a child process with that warehouse's environment: ``not_green(warehouse)`` from a test or from
`make screenshots`, ``python -m tests.demo_state`` under the variables `make ui` sets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def demo_env(warehouse: Path) -> dict[str, str]:
    """The environment `make demo` and `make ui` give a warehouse (no start date forced from outside)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CLICKSTREAM_START_DATE", "PYTHONPATH")}
    return {**env, "CLICKSTREAM_HOME": str(warehouse), "DAGSTER_HOME": str(warehouse / "dagster"),
            "CLICKSTREAM_PROFILE": "local"}


def run_demo(warehouse: Path, *args: str) -> subprocess.CompletedProcess:
    """`clickstream demo` as `make demo` runs it, in its own process."""
    return subprocess.run([sys.executable, "-m", "clickstream_assets.cli", "demo", *args], cwd=ROOT,
                          env=demo_env(warehouse), capture_output=True, text=True, timeout=900)


def not_green(warehouse: Path) -> dict[str, list[str]]:
    """``{"missing": [...], "failed": [...], "unchecked": [...]}`` for the warehouse's demo, each empty when green."""
    found = subprocess.run([sys.executable, "-m", "tests.demo_state"], cwd=ROOT, env=demo_env(warehouse),
                           capture_output=True, text=True, timeout=300)
    if found.returncode:
        raise RuntimeError(found.stderr[-3000:])
    return json.loads(found.stdout.strip().splitlines()[-1])


def _demo_end(warehouse: Path) -> datetime:
    """The hour the demo's traffic ran up to: partitions after it did not exist when it ran, so they may wait."""
    (marker,) = sorted((warehouse / "producer_runs").glob("demo-*.json"))[-1:]
    return datetime.fromisoformat(json.loads(marker.read_text())["parameters"]["until"])


def _inspect() -> dict[str, list[str]]:
    import dagster as dg

    from clickstream_assets.definitions import build_definitions
    from resources.profile import build_resources, warehouse_path

    warehouse = warehouse_path(None)
    defs = build_definitions(build_resources("local", warehouse))
    instance = dg.DagsterInstance.get()
    graph = defs.resolve_asset_graph()
    as_of = _demo_end(warehouse)
    missing, failed, unchecked = [], [], []
    for key in sorted(graph.materializable_asset_keys):
        node = graph.get(key)
        name = key.to_user_string()
        if node.partitions_def is None:
            if instance.get_latest_materialization_event(key) is None:
                missing.append(name)
        else:
            wanted = node.partitions_def.get_partition_keys(current_time=as_of)
            done = instance.get_materialized_partitions(key)
            missing += [f"{name}:{p}" for p in wanted if p not in done]
        for check in node.check_keys:
            record = instance.get_latest_asset_check_evaluation_record(check)
            evaluation = record.event.dagster_event.event_specific_data if record and record.event else None
            label = f"{name}:{check.name}"
            if evaluation is None:
                unchecked.append(label)
            elif not evaluation.passed:
                failed.append(label)
    return {"missing": missing, "failed": failed, "unchecked": unchecked}


if __name__ == "__main__":
    print(json.dumps(_inspect()))
