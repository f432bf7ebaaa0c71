"""The dashboard as its users see it: one definition, a page whose filters move every KPI to the models' figures,
and a definition that fails loudly on a typo (its QuickSight twin: tests/test_quicksight_definition.py).

The page is driven in real Chromium. Expected figures come straight from the processed Parquet (pyarrow), never
from the page's own code.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from clickstream_assets.defs.quicksight.datasets import load_definition
from resources.dashboard_spec import DefinitionError, validate
from resources.html_dashboard import render
from tests.ui import ROOT, browser

START, DAYS = date(2026, 5, 1), 180
DOCS_SCREENSHOTS = "CLICKSTREAM_DOCS_SCREENSHOTS"  # =1: the half-year picture goes to docs/, for `make screenshots`
KPIS = ["sessions", "conversion_rate", "revenue", "orders", "average_order_value", "cart_abandonment_rate"]


# -- expected figures, from the Parquet ------------------------------------------------------------------------

def table_rows(warehouse: Path, table: str) -> list[dict] | None:
    root = warehouse / "processed" / table
    if not root.exists():
        return None
    rows = []
    for part in sorted(root.glob("dt=*/part-0.parquet")):
        dt = part.parent.name[3:]
        rows += [{**r, "dt": dt} for r in pq.read_table(part).to_pylist()]
    return rows


def half_up(value: float, places: int) -> str:
    """Rounds as the page's ``toFixed`` does: the double's exact value, ties away from zero."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def formatted(kind: str, value: float | None, currency: str | None = None) -> str:
    if value is None:
        return "—"
    if kind == "percent":
        return half_up(value * 100, 1) + "%"
    if kind == "money":
        whole, frac = half_up(value, 2).split(".")
        return f"{int(whole):,}.{frac}" + (f" {currency}" if currency else "")
    return f"{round(value):,}"


def expected_kpis(warehouse: Path, first: str, last: str, device: str = "", channel: str = "") -> dict:
    """Each KPI's (text, value) for the filters: sums, and ratios of sums, of the models' rows."""
    def keep(r):
        return first <= r["dt"] <= last and (not device or r["device_type"] == device) and \
            (not channel or r["channel"] == channel)

    funnel = [r for r in table_rows(warehouse, "funnel_daily") if keep(r)]
    total = lambda rows, c: sum(r[c] for r in rows)  # noqa: E731
    ratio = lambda n, d: n / d if d else None  # noqa: E731
    out = {
        "sessions": (formatted("count", total(funnel, "sessions")), total(funnel, "sessions")),
        "conversion_rate": ratio(total(funnel, "purchase"), total(funnel, "sessions")),
        "cart_abandonment_rate": ratio(total(funnel, "add_to_cart") - total(funnel, "purchase"),
                                       total(funnel, "add_to_cart")),
    }
    for k in ("conversion_rate", "cart_abandonment_rate"):
        out[k] = (formatted("percent", out[k]), out[k])
    orders = table_rows(warehouse, "orders_daily")
    if orders is None:
        out.update({k: ("—", None) for k in ("revenue", "orders", "average_order_value")})
        return out
    orders = [r for r in orders if keep(r)]
    currencies = sorted({r["currency"] for r in orders})
    out["orders"] = (formatted("count", total(orders, "orders")), total(orders, "orders"))
    by = {c: [r for r in orders if r["currency"] == c] for c in currencies}
    out["revenue"] = (" · ".join(formatted("money", total(by[c], "revenue"), c) for c in currencies) or "—",
                      total(orders, "revenue") if len(currencies) == 1 else None)
    out["average_order_value"] = (
        " · ".join(formatted("money", ratio(total(by[c], "revenue"), total(by[c], "orders")), c)
                   for c in currencies) or "—",
        ratio(total(orders, "revenue"), total(orders, "orders")) if len(currencies) == 1 else None)
    return out


def shown_kpis(page) -> dict:
    return {k: (page.inner_text(f'[data-kpi="{k}"] b'), page.get_attribute(f'[data-kpi="{k}"]', "data-value"),
                page.get_attribute(f'[data-kpi="{k}"]', "data-state")) for k in KPIS}


def assert_kpis_match(page, expected: dict) -> None:
    for k, (text, shown_value, state) in shown_kpis(page).items():
        want_text, want_value = expected[k]
        assert text == want_text, (k, text, want_text)
        if state == "absent":
            assert want_text == "—", k
        elif want_value is not None:
            assert float(shown_value) == pytest.approx(float(want_value), rel=1e-12), k


# -- fixtures -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def half_year(tmp_path_factory) -> Path:
    """180 days of traffic through every step (tests/history_warehouse.py), in a process of its own: the calendar
    is fixed when the definitions are imported, and this history starts before the default calendar.
    ``CLICKSTREAM_TEST_HALF_YEAR=<warehouse>`` reuses one built so while iterating."""
    if os.environ.get("CLICKSTREAM_TEST_HALF_YEAR"):
        return Path(os.environ["CLICKSTREAM_TEST_HALF_YEAR"])
    warehouse = tmp_path_factory.mktemp("half-year") / "warehouse"
    warehouse.mkdir()
    env = {**os.environ, "CLICKSTREAM_START_DATE": START.isoformat(), "CLICKSTREAM_HOME": str(warehouse),
           "DAGSTER_HOME": str(warehouse / "dagster"), "PYTHONPATH": str(ROOT)}
    built = subprocess.run([sys.executable, "-m", "tests.history_warehouse", str(warehouse), START.isoformat(),
                            str(DAYS), "300"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return warehouse


class Page:
    """The dashboard in Chromium, recording requests that leave the file and every CSP violation or error."""

    def __init__(self, b, path: Path, width: int = 1400, height: int = 900):
        self.problems: list[str] = []
        self.page = b.new_page(viewport={"width": width, "height": height})
        self.page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
                     else self.problems.append(f"left the page: {r.url}"))
        self.page.on("console", lambda m: self.problems.append(m.text[:300]) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.add_init_script("document.addEventListener('securitypolicyviolation', e => console.error("
                                  "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("body[data-ready=true]", state="attached", timeout=60_000)

    def choose(self, name: str, value: str) -> None:
        self.page.select_option(f'select[name="{name}"]', value)

    def preset(self, days: str) -> None:
        self.page.click(f'button[data-preset="{days}"]')


def last_days(n: int) -> tuple[str, str]:
    last = START + timedelta(days=DAYS - 1)
    return (last - timedelta(days=n - 1)).isoformat(), last.isoformat()


# -- the page -------------------------------------------------------------------------------------------------

def test_mobile_in_the_last_7_days_shows_every_kpi_as_the_parquet_has_it(chromium, half_year):
    with browser(chromium) as b:
        view = Page(b, half_year / "dashboard" / "index.html")
        everything = expected_kpis(half_year, *last_days(DAYS))
        assert_kpis_match(view.page, everything)
        view.choose("device", "mobile")
        view.preset("7")
        first, last = last_days(7)
        assert view.page.input_value('input[name="from"]') == first and view.page.input_value('input[name="to"]') == last
        expected = expected_kpis(half_year, first, last, device="mobile")
        assert expected["sessions"][1] < everything["sessions"][1] / 10
        assert_kpis_match(view.page, expected)
        assert view.problems == []


def test_each_filter_moves_the_kpis_to_the_models_figures(chromium, half_year):
    with browser(chromium) as b:
        view = Page(b, half_year / "dashboard" / "index.html")
        view.choose("channel", "organic_search")
        assert_kpis_match(view.page, expected_kpis(half_year, *last_days(DAYS), channel="organic_search"))
        view.choose("channel", "")
        view.preset("30")
        assert_kpis_match(view.page, expected_kpis(half_year, *last_days(30)))
        view.choose("device", "desktop")
        view.page.fill('input[name="from"]', "2026-06-01")
        view.page.fill('input[name="to"]', "2026-06-15")
        view.page.dispatch_event('input[name="to"]', "change")
        assert_kpis_match(view.page, expected_kpis(half_year, "2026-06-01", "2026-06-15", device="desktop"))
        assert view.problems == []


def test_half_a_year_reads_at_a_glance_and_fits_desktop_and_phone(chromium, half_year, tmp_path):
    with browser(chromium) as b:
        for width, height in ((1400, 900), (390, 844)):
            view = Page(b, half_year / "dashboard" / "index.html", width, height)
            page = view.page
            assert "by week" in page.inner_text(".grain")  # 180 days: weekly points, not 180 jittering days
            assert page.locator("#conversion .js-plotly-plot .trace").count() >= 2
            assert page.locator("#retention .js-plotly-plot").count() == 1
            cohorts = page.evaluate("document.getElementById('retention').querySelector('.chart').data[0].y.length")
            assert cohorts == 12
            assert page.locator("#health table.recent tbody tr").count() == 14
            days = int(page.get_attribute("#health .ledger-totals", "data-days"))
            assert days >= DAYS and page.locator("#health details.older tbody tr").count() == days - 14
            assert not page.locator("#health details.older").evaluate("d => d.open")
            for section in ("revenue", "paths", "lifecycle"):  # the revenue models: orders, paths, lifecycle
                assert page.locator(f"#{section} .chart.js-plotly-plot .main-svg").count() > 0, section
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            assert view.problems == []
            if width == 1400:
                view.preset("30")
                assert "by day" in page.inner_text(".grain")
                view.preset("all")
                # The README's picture of it: `make screenshots` refreshes it; a test run leaves the checkout as is.
                docs = os.environ.get(DOCS_SCREENSHOTS) == "1"
                shot = (ROOT / "docs" if docs else tmp_path) / "dashboard-180-days.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 100_000


def test_the_revenue_paths_and_lifecycle_sections_draw_when_their_models_exist(chromium, tmp_path):
    """Rows shaped as the revenue issue's models (orders_daily, paths_daily, lifecycle_weekly) specify them."""
    definition = load_definition()
    days = ["2026-11-02", "2026-11-03"]
    funnel = [{"dt": d, "device_type": dev, "channel": "direct", "sessions": 100, "product_view": 50,
               "add_to_cart": 20, "checkout": 10, "purchase": 5, "abandoned_carts": 15}
              for d in days for dev in ("mobile", "desktop")]
    orders = [{"dt": d, "device_type": dev, "channel": "direct", "currency": "USD", "orders": n,
               "revenue": 19.99 * n + 0.005, "items": 2 * n}
              for d, n in zip(days, (3, 4)) for dev in ("mobile", "desktop")]
    paths = [{"dt": d, "step": s, "from_page_class": a, "to_page_class": b_, "sessions": 10 * s}
             for d in days for s, a, b_ in ((1, "home", "category"), (2, "category", "product"), (1, "home", "search"))]
    lifecycle = [{"week": "2026-11-02", "state": s, "users": n} for s, n in (("new", 40), ("returning", 25))]
    data = {"funnel": funnel, "orders": orders, "paths": paths, "lifecycle": lifecycle, "engagement": None,
            "products": [], "retention": []}
    page_file = tmp_path / "index.html"
    page_file.write_text(render(definition, data, {"days": []}, "now"))
    with browser(chromium) as b:
        view = Page(b, page_file)
        revenue = sum(r["revenue"] for r in orders)
        assert view.page.inner_text('[data-kpi="revenue"] b') == formatted("money", revenue, "USD")
        assert view.page.inner_text('[data-kpi="orders"] b') == "14"
        assert view.page.inner_text('[data-kpi="average_order_value"] b') == formatted("money", revenue / 14, "USD")
        view.choose("device", "mobile")
        mobile = sum(r["revenue"] for r in orders if r["device_type"] == "mobile")
        assert view.page.inner_text('[data-kpi="revenue"] b') == formatted("money", mobile, "USD")
        view.page.wait_for_selector("#paths .sankey-link")  # plotly draws a Sankey after its layout settles
        assert view.page.locator("#paths .sankey-node").count() == 4  # home, category, search, product
        assert view.page.locator("#lifecycle .js-plotly-plot .trace").count() == 2
        assert "Not built yet: engagement" in view.page.inner_text("#engagement")
        assert view.problems == []


# -- one definition, two twins --------------------------------------------------------------------------------

def test_a_definition_that_refers_to_nothing_fails_loudly():
    broken = copy.deepcopy(load_definition())
    broken["sections"][1]["measures"] = ["conversion_rat"]
    with pytest.raises(DefinitionError, match="conversion_rat"):
        validate(broken)
    broken = copy.deepcopy(load_definition())
    broken["sections"][1]["kind"] = "pie"
    with pytest.raises(DefinitionError, match="pie"):
        validate(broken)
