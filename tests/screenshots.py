"""`make screenshots`: the lineage in the Dagster UI and the local dashboard, as PNGs under docs/."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.ui import ROOT, browser, build_warehouse, dagster_ui, find_chromium


def main() -> None:
    chromium = find_chromium()
    if not chromium:
        raise SystemExit("screenshots need Chromium (apt-get install chromium)")
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "warehouse"
        warehouse.mkdir()
        build_warehouse(warehouse)
        with dagster_ui(warehouse) as url, browser(chromium) as b:
            page = b.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{url}/assets/quicksight/dashboard?view=lineage&lineageScope=upstream&lineageDepth=12")
            page.wait_for_selector("text=raw_events", timeout=60_000)
            page.wait_for_load_state("networkidle")
            time.sleep(2)
            page.screenshot(path=str(docs / "lineage.png"))
            page = b.new_page(viewport={"width": 1400, "height": 900})
            page.goto((warehouse / "dashboard" / "index.html").as_uri())
            page.wait_for_selector("body[data-ready=true]", state="attached")
            page.screenshot(path=str(docs / "dashboard.png"), full_page=True)
    print(f"wrote {docs / 'lineage.png'} and {docs / 'dashboard.png'}")


if __name__ == "__main__":
    main()
