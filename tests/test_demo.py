"""`make demo` leaves a newcomer's Dagster UI green: no missing partition in the warehouse's calendar up to the hour
the demo ran in, and every asset check's latest evaluation passed, freshness included (the demo's traffic runs up
to the current hour, so the lag is measured on fresh data, not waived)."""

from __future__ import annotations

import json

from tests.demo_state import not_green, run_demo


def test_after_the_demo_every_partition_is_there_and_every_check_passes(tmp_path):
    warehouse = tmp_path / "warehouse"
    demo = run_demo(warehouse, "--days", "2", "--events-per-day", "3000")
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "freshness:" not in demo.stdout  # nothing reported behind its policy
    assert json.loads((warehouse / "calendar.json").read_text())["start"] in demo.stdout  # the first day shown
    assert not_green(warehouse) == {"missing": [], "failed": [], "unchecked": []}
