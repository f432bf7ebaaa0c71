"""Seen as a user sees it: the Dagster UI on a materialized warehouse, and the local dashboard, in Chromium."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.ui import DAYS, browser, build_warehouse, dagster_ui, graphql, no_error_toasts, open_page

CHAIN = ["raw/events", "processed/events", "processed/sessions", "glue/sessions",
         "quicksight/sessions", "quicksight/dashboard"]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("ui") / "warehouse"
    path.mkdir()
    build_warehouse(path)
    return path


@pytest.fixture(scope="module")
def ui(warehouse):
    with dagster_ui(warehouse) as url:
        yield url


def test_lineage_runs_from_raw_events_to_the_dashboard(chromium, ui):
    nodes = graphql(ui, "{ assetNodes { assetKey { path } dependencyKeys { path } } }")["assetNodes"]
    upstream = {"/".join(n["assetKey"]["path"]): {"/".join(d["path"]) for d in n["dependencyKeys"]} for n in nodes}
    for child, parent in zip(CHAIN[1:], CHAIN[:-1]):
        assert parent in upstream[child], f"{parent} -> {child} missing"
    with browser(chromium) as b:
        page, watch = open_page(b, f"{ui}/assets/quicksight/dashboard?view=lineage&lineageScope=upstream"
                                   "&lineageDepth=12", ui)
        page.wait_for_selector("text=retention_weekly", timeout=30_000)
        body = page.inner_text("body")
        # raw/events and processed/events both show as "events", under their groups' names.
        for name in ("raw", "events", "sessions", "funnel_daily", "retention_weekly", "dashboard"):
            assert name in body
        no_error_toasts(page)
        assert watch.problems == []


def test_the_partitions_tab_shows_the_materialized_days(chromium, ui):
    with browser(chromium) as b:
        page, watch = open_page(b, f"{ui}/assets/processed/events?view=partitions", ui)
        page.wait_for_selector("text=Materialized (3)", timeout=30_000)
        # The list runs to today, newest first: leave out the missing days, as a user would, to list the built ones.
        page.get_by_text(re.compile(r"^Missing \([0-9]+\)$")).click()
        page.wait_for_timeout(500)
        seen = page.inner_text("body")
        assert all(day in seen for day in DAYS), [d for d in DAYS if d not in seen]
        assert "2026-11-05" not in seen  # a day never built is filtered out
        no_error_toasts(page)
        assert watch.problems == []


def test_a_two_partition_backfill_completes_with_its_checks_passed(chromium, ui):
    launched = graphql(ui, """
        mutation($params: LaunchBackfillParams!) {
          launchPartitionBackfill(backfillParams: $params) {
            __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
                       {"params": {"partitionNames": DAYS[1:], "fromFailure": False, "assetSelection": [
                           {"path": ["processed", "events"]}, {"path": ["processed", "quarantine"]}]}})
    result = launched["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    deadline, status = time.monotonic() + 300, None
    while time.monotonic() < deadline:
        status = graphql(ui, """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
            ... on PartitionBackfill { status } } }""", {"id": result["backfillId"]})["partitionBackfillOrError"]["status"]
        if status not in ("REQUESTED", "IN_PROGRESS"):
            break
        time.sleep(2)
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), status
    checks = graphql(ui, """{ assetNodeOrError(assetKey: {path: ["processed", "events"]}) { ... on AssetNode {
        assetChecksOrError { ... on AssetChecks { checks { name blocking
          executionForLatestMaterialization { status } } } } } } }""")
    by_name = {c["name"]: c for c in checks["assetNodeOrError"]["assetChecksOrError"]["checks"]}
    for name in ("contract_and_types", "event_id_unique", "counts_reconcile"):
        assert by_name[name]["executionForLatestMaterialization"]["status"] == "SUCCEEDED", by_name[name]
    with browser(chromium) as b:
        page, watch = open_page(b, f"{ui}/assets/processed/events?view=checks", ui)
        page.wait_for_selector("text=counts_reconcile", timeout=30_000)
        no_error_toasts(page)
        assert watch.problems == []


# -- the local dashboard -------------------------------------------------------------------------------------------

def parquet_rows(warehouse: Path, table: str) -> list[dict]:
    return [r for d in DAYS for r in pq.read_table(warehouse / "processed" / table / f"dt={d}" / "part-0.parquet")
            .to_pylist()]


@pytest.mark.parametrize("width,height", [(1400, 900), (390, 844)])
def test_the_dashboard_renders_every_chart_offline_at_desktop_and_phone_width(chromium, warehouse, width, height):
    url = (warehouse / "dashboard" / "index.html").as_uri()
    with browser(chromium) as b:
        page, watch = open_page(b, url, "file://", width, height)
        page.wait_for_selector("body[data-ready=true]", state="attached")
        for section in ("conversion", "funnel_device", "funnel_channel", "traffic", "engagement", "products",
                        "retention"):
            assert page.locator(f"#{section} .js-plotly-plot .main-svg").count() > 0, section
        for section in ("revenue", "paths", "lifecycle"):
            assert page.locator(f"#{section} .chart.js-plotly-plot .main-svg").count() > 0, section
        assert page.locator("#kpis .kpi").count() == 6 and page.locator("#health table.recent tbody tr").count() == 3
        # Readable: nothing wider than the screen, text not microscopic.
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 13
        assert watch.problems == []


def test_the_numbers_on_the_dashboard_are_the_models_numbers(chromium, warehouse):
    funnel = parquet_rows(warehouse, "funnel_daily")
    products = parquet_rows(warehouse, "product_performance_daily")
    purchases: dict[str, int] = {}
    for row in products:
        purchases[row["product_id"]] = purchases.get(row["product_id"], 0) + row["purchases"]
    top_product, top_purchases = max(purchases.items(), key=lambda kv: (kv[1], kv[0]))
    with browser(chromium) as b:
        page, _ = open_page(b, (warehouse / "dashboard" / "index.html").as_uri(), "file://")
        page.wait_for_selector("body[data-ready=true]", state="attached")
        shown = page.get_attribute('[data-kpi="sessions"]', "data-value")
        assert int(shown) == sum(r["sessions"] for r in funnel)
        assert page.inner_text('[data-kpi="sessions"] b') == f"{sum(r['sessions'] for r in funnel):,}"
        # What plotly holds is what it draws and what hover shows.
        bars = page.evaluate("document.querySelector('#products .chart').data[0]")
        assert bars["x"][-1] == top_purchases  # the longest bar, drawn last (top) in a horizontal bar chart
        funnel_traces = page.evaluate("document.querySelector('#funnel_device .chart').data")
        mobile = next(t for t in funnel_traces if t["name"] == "mobile")
        assert mobile["customdata"][-1] == sum(r["purchase"] for r in funnel if r["device_type"] == "mobile")
        assert top_product in bars["y"]
