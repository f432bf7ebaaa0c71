"""`make screenshots`: the Dagster UI and the local dashboard right after `make demo`, as PNGs under docs/.

The demo runs as `make demo` does (its own process, a fresh warehouse, the default week), the state is checked
green through the Dagster instance first (tests/demo_state.py), then `dagster dev` serves that warehouse as
`make ui` would and headless Chromium takes the pictures.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tests.demo_state import not_green, run_demo
from tests.ui import ROOT, browser, dagster_ui, find_chromium


def main() -> None:
    chromium = find_chromium()
    if not chromium:
        raise SystemExit("screenshots need Chromium (apt-get install chromium)")
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "warehouse"
        demo = run_demo(warehouse)
        if demo.returncode:
            raise SystemExit(f"make demo failed:\n{demo.stdout[-2000:]}{demo.stderr[-2000:]}")
        state = not_green(warehouse)
        if any(state.values()):
            raise SystemExit(f"the UI after the demo is not green: {state}")
        with dagster_ui(warehouse) as url, browser(chromium) as b:
            page = b.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{url}/assets/quicksight/dashboard?view=lineage&lineageScope=upstream&lineageDepth=12")
            page.wait_for_selector("text=retention_weekly", timeout=60_000)
            page.wait_for_load_state("networkidle")
            time.sleep(2)
            page.screenshot(path=str(docs / "lineage.png"))
            page = b.new_page(viewport={"width": 1400, "height": 700})
            page.goto(f"{url}/assets/raw/events?view=partitions")  # the calendar: no hour missing up to now
            page.wait_for_selector("text=Missing (0)", timeout=60_000)
            page.wait_for_load_state("networkidle")
            time.sleep(2)
            page.screenshot(path=str(docs / "partitions.png"))
            page = b.new_page(viewport={"width": 1400, "height": 900})
            page.goto((warehouse / "dashboard" / "index.html").as_uri())
            page.wait_for_selector("body[data-ready=true]", state="attached")
            page.screenshot(path=str(docs / "dashboard.png"), full_page=True)
    print(f"wrote {', '.join(str(docs / n) for n in ('lineage.png', 'partitions.png', 'dashboard.png'))}")


if __name__ == "__main__":
    main()
