"""The models' numbers equal a plain Python count over the same clean events; definitions hold on edge cases."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from html import unescape

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clickstream_assets.producer.simulator import Mess
from clickstream_assets.settings import PipelineSettings
from tests.pipeline import DAILY, PUBLISH, WHOLE, Pipeline
from tests.recompute import (
    attribute,
    nearest_rank,
    python_lifecycle,
    python_orders,
    python_paths,
    python_sessions,
)

START = date(2026, 11, 2)
DAYS = ["2026-11-02", "2026-11-03"]
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pipeline = Pipeline(tmp_path_factory.mktemp("warehouse"))
    pipeline.produce(START, 2, 3_000, mess=Mess(duplicate_rate=0.01))
    assert pipeline.seal(START, date(2026, 11, 3)).success
    outcomes = [pipeline.build(DAYS[0], "2026-11-04"), pipeline.build(DAYS[0], DAYS[1], keys=DAILY)]
    outcomes.append(pipeline.build(None, None, keys=WHOLE))
    outcomes.append(pipeline.build(None, None, keys=PUBLISH))
    for outcome in outcomes:
        assert outcome.success, outcome.error
        assert all(outcome.checks.values()), outcome.checks
    return pipeline


def table(pipeline, name, days=DAYS):
    return [dict(r, dt=d) for d in days for r in pq.read_table(pipeline.parquet(name, d)).to_pylist()]


def test_sessions_equal_a_python_sessionization(built):
    events = table(built, "events", DAYS + ["2026-11-04"])
    expected = {k: v for k, v in python_sessions(events).items() if v["dt"] in DAYS}
    rows = {r["session_id"]: r for r in table(built, "sessions")}
    assert set(rows) == set(expected)
    for sid, want in expected.items():
        got = rows[sid]
        assert (got["events"], got["page_views"], got["bounced"], got["engaged"]) == (
            want["events"], want["page_views"], want["bounced"], want["engaged"]), sid
        assert [got["product_view_at"], got["add_to_cart_at"], got["checkout_at"], got["purchase_at"]] == want["steps"]


def test_funnel_counts_equal_python_counts(built):
    events = table(built, "events", DAYS + ["2026-11-04"])
    sessions = [s for s in python_sessions(events).values() if s["dt"] in DAYS]
    rows = table(built, "funnel_daily")
    for day in DAYS:
        for step, column in enumerate(["product_view", "add_to_cart", "checkout", "purchase"]):
            want = sum(1 for s in sessions if s["dt"] == day and s["steps"][step] is not None)
            assert sum(r[column] for r in rows if r["dt"] == day) == want
        assert sum(r["sessions"] for r in rows if r["dt"] == day) == sum(1 for s in sessions if s["dt"] == day)
    purchases = sum(r["purchase"] for r in rows)
    assert purchases > 20


def test_product_performance_equals_event_counts(built):
    events = [e for e in table(built, "events") if e["product_id"]]
    want = Counter((e["dt"], e["product_id"], e["event_type"]) for e in events)
    users = defaultdict(set)
    for e in events:
        users[(e["dt"], e["product_id"])].add(e["user_id"])
    for r in table(built, "product_performance_daily"):
        key = (r["dt"], r["product_id"])
        assert (r["views"], r["clicks"], r["add_to_carts"], r["purchases"]) == tuple(
            want[(*key, t)] for t in ("view", "click", "add_to_cart", "purchase"))
        assert r["unique_users"] == len(users[key])


def test_engagement_counts_users_once_across_devices(built):
    sessions = table(built, "sessions")
    rows = {(r["dt"], r["device_type"]): r for r in table(built, "user_engagement_daily")}
    for day in DAYS:
        day_sessions = [s for s in sessions if s["dt"] == day]
        assert rows[(day, "all")]["active_users"] == len({s["user_id"] for s in day_sessions})
        assert rows[(day, "all")]["sessions"] == len(day_sessions)
        for device in ("mobile", "desktop", "tablet"):
            assert rows[(day, device)]["sessions"] == sum(1 for s in day_sessions if s["device_type"] == device)
    two_days = {s["user_id"] for s in sessions}
    assert rows[(DAYS[1], "all")]["active_users_7d"] == len(two_days)


def test_retention_week_zero_is_the_whole_cohort(built):
    rows = pq.read_table(built.warehouse / "processed" / "retention_weekly" / "part-0.parquet").to_pylist()
    users = {s["user_id"] for s in table(built, "sessions")}
    assert sum(r["cohort_users"] for r in rows if r["week_offset"] == 0) == len(users)
    assert all(r["retention_rate"] == 1.0 for r in rows if r["week_offset"] == 0)


def test_the_dashboard_shows_every_section_with_the_models_numbers(built):
    html = (built.warehouse / "dashboard" / "index.html").read_text()
    for section in ("kpis", "funnel_device", "funnel_channel", "conversion", "products", "engagement", "traffic",
                    "retention", "health"):
        assert f'id="{section}"' in html
    # The page embeds the funnel's rows and adds them up itself (tests/test_dashboard.py drives it in Chromium).
    embedded = json.loads(re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html,
                                    re.S).group(1))
    funnel = embedded["data"]["funnel"]
    at = funnel["columns"].index("sessions")
    assert sum(r[at] for r in funnel["rows"]) == sum(r["sessions"] for r in table(built, "funnel_daily"))
    # Nothing loads from elsewhere; each script that runs is allowed by its hash, so no injected one could run.
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", html)
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1))
    assert "default-src 'none'" in csp and "unsafe-eval" not in csp
    for body in re.findall(r"<script>(.*?)</script>", html, re.S):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


# -- revenue, attribution, paths and lifecycle, recomputed in Python ----------------------------------------------

NEXT = DAYS + ["2026-11-04"]  # an order's or session's later events may fall on the next day


def test_orders_equal_python_orders(built):
    expected = {k: v for k, v in python_orders(table(built, "events", NEXT)).items() if v["dt"] in DAYS}
    rows = {r["order_key"]: r for r in table(built, "orders")}
    assert set(rows) == set(expected) and len(rows) > 20
    for key, want in expected.items():
        got = rows[key]
        assert (got["lines"], got["items"], got["revenue"], got["session_id"], got["user_id"], got["currency"]) == (
            want["lines"], want["items"], want["revenue"], want["session_id"], want["user_id"], want["currency"]), key
    assert sum(r["lines"] > 1 for r in rows.values()) > 0 and sum(r["items"] > r["lines"] for r in rows.values()) > 0


def test_orders_daily_equals_python_sums_and_revenue_reconciles_across_models(built):
    sessions = {r["session_id"]: r for r in table(built, "sessions")}
    orders = [o for o in python_orders(table(built, "events", NEXT)).values() if o["dt"] in DAYS]
    want: dict[tuple, list] = defaultdict(lambda: [0, 0, 0])
    for o in orders:
        s = sessions[o["session_id"]]
        cell = want[(o["dt"], s["device_type"], s["channel"], o["currency"])]
        cell[0], cell[1], cell[2] = cell[0] + 1, cell[1] + o["revenue"], cell[2] + o["items"]
    visits = Counter((s["dt"], s["device_type"], s["channel"]) for s in sessions.values())
    rows = table(built, "orders_daily")
    assert {(r["dt"], r["device_type"], r["channel"], r["currency"]): [r["orders"], r["revenue"], r["items"]]
            for r in rows} == dict(want)
    for r in rows:
        assert r["average_order_value"] == pytest.approx(float(r["revenue"]) / r["orders"], rel=1e-12)
        assert r["revenue_per_session"] == pytest.approx(
            float(r["revenue"]) / visits[(r["dt"], r["device_type"], r["channel"])], rel=1e-12)
    # One revenue, whichever way it is cut: orders, products, and each attribution model.
    for day in DAYS:
        revenue = sum(r["revenue"] for r in rows if r["dt"] == day)
        assert revenue > 0
        assert sum(r["revenue"] for r in table(built, "product_performance_daily") if r["dt"] == day) == revenue
        for model in ("first_touch", "last_non_direct"):
            assert sum(r["revenue"] for r in table(built, "attribution_daily")
                       if r["dt"] == day and r["model"] == model) == revenue


def test_attribution_equals_python_first_touch_and_last_non_direct(built):
    sessions = table(built, "sessions")
    by_user = defaultdict(list)
    for s in sessions:
        by_user[s["user_id"]].append(s)
    want: dict[tuple, list] = defaultdict(lambda: [0, 0])
    for o in python_orders(table(built, "events", NEXT)).values():
        if o["dt"] not in DAYS:
            continue
        for model, channel in zip(("first_touch", "last_non_direct"), attribute(o, by_user[o["user_id"]])):
            want[(o["dt"], channel, model)][0] += 1
            want[(o["dt"], channel, model)][1] += o["revenue"]
    got = {(r["dt"], r["channel"], r["model"]): [r["conversions"], r["revenue"]] for r in table(built, "attribution_daily")}
    assert got == dict(want)


def test_paths_equal_python_page_class_steps(built):
    want = {k: v for k, v in python_paths(table(built, "events", NEXT)).items() if k[0] in DAYS}
    rows = table(built, "paths_daily")
    assert {(r["dt"], r["step"], r["from_page_class"], r["to_page_class"]): r["sessions"] for r in rows} == want
    assert max(r["step"] for r in rows) == 10 and any(r["to_page_class"] == "confirmation" for r in rows)


def test_lifecycle_states_equal_python_and_partition_the_users_seen(built):
    rows = pq.read_table(built.warehouse / "processed" / "lifecycle_weekly" / "part-0.parquet").to_pylist()
    sessions = table(built, "sessions")
    assert {(r["week"], r["state"]): r["users"] for r in rows} == python_lifecycle(sessions)
    assert sum(r["users"] for r in rows) == len({s["user_id"] for s in sessions})  # one week here: all new


def test_lifecycle_states_on_hand_made_weeks(built):
    weeks = [date(2026, 10, 5) + timedelta(days=7 * k) for k in range(4)]  # Mondays
    visits = {"a": [0, 1, 2, 3], "b": [0, 2], "c": [1], "d": [0]}
    rows = [{"user_id": u, "dt": weeks[w] + timedelta(days=2)} for u, ws in visits.items() for w in ws]
    result, _ = built.resources["engine"].query("models/lifecycle_weekly.sql", {}, inputs={
        "sessions": pa.Table.from_pylist(rows)})
    got = {(r["week"], r["state"]): r["users"] for r in result.to_pylist()}
    assert got == python_lifecycle(rows)
    assert got[(weeks[2], "resurrecting")] == 1 and got[(weeks[3], "dormant")] == 3  # b back; b, c, d away
    assert got[(weeks[1], "returning")] == 1 and got[(weeks[1], "new")] == 1  # a again, c first


def test_product_units_and_revenue_equal_the_purchase_lines(built):
    want: dict[tuple, list] = defaultdict(lambda: [0, 0])
    for e in table(built, "events"):
        if e["event_type"] == "purchase" and e["product_id"]:
            want[(e["dt"], e["product_id"])][0] += e["quantity"] or 1
            want[(e["dt"], e["product_id"])][1] += e["price"] * (e["quantity"] or 1)
    for r in table(built, "product_performance_daily"):
        assert [r["units"], r["revenue"]] == want.get((r["dt"], r["product_id"]), [0, 0])


def test_funnel_percentiles_of_seconds_to_convert(built):
    seconds = defaultdict(list)
    for s in table(built, "sessions"):
        if s["purchase_at"] is not None:
            # date_diff('second') counts whole seconds between the two, as the engine does.
            whole = int(s["purchase_at"].timestamp()) - int(s["session_start"].timestamp())
            seconds[(s["dt"], s["device_type"], s["channel"])].append(whole)
    rows = {(r["dt"], r["device_type"], r["channel"]): r for r in table(built, "funnel_daily")}
    assert seconds
    for key, values in seconds.items():
        assert (rows[key]["p50_seconds_to_convert"], rows[key]["p90_seconds_to_convert"]) == (
            nearest_rank(values, 50), nearest_rank(values, 90))


def test_the_funnel_window_setting_cuts_late_steps(built):
    engine = built.resources["engine"]
    events = [event("w", 0, "view", page="/product/P1", product="P1"),
              event("w", 100, "add_to_cart", page="/product/P1", product="P1"),
              event("w", 200, "view", page="/checkout"),
              event("w", 400, "purchase", page="/checkout/confirmation", product="P1")]
    params = {"first_day": "2026-11-02", "last_day": "2026-11-02"}
    for window, reached in ((0, True), (300, False), (400, True)):
        settings = PipelineSettings(funnel_window_seconds=window)
        result, _ = engine.query("models/sessions.sql", {**params, **settings.page_params()},
                                 inputs={"events": pa.Table.from_pylist(events)})
        row = result.to_pylist()[0]
        assert (row["purchase_at"] is not None) == reached and row["checkout_at"] is not None


# -- definitions on hand-made sessions ---------------------------------------------------------------------------

T0 = datetime(2026, 11, 2, 12, 0, 0)


def event(session, seconds, event_type="view", page="/", product=None, referrer=None, user="u1"):
    return {"event_id": f"{session}-{seconds}-{event_type}", "schema_version": 1,
            "event_ts": T0 + timedelta(seconds=seconds), "event_type": event_type, "page": page,
            "product_id": product, "user_id": user, "session_id": session, "device_type": "mobile",
            "browser": "Mobile Safari", "location": "Lyon, FR", "referrer_url": referrer, "user_type": "new",
            "arrival_ts": T0, "source_object": "events/x", "dt": date(2026, 11, 2)}


def run_sessions(engine, events):
    params = {"first_day": "2026-11-02", "last_day": "2026-11-02", **PipelineSettings().page_params()}
    result, _ = engine.query("models/sessions.sql", params, inputs={"events": pa.Table.from_pylist(events)})
    return {r["session_id"]: r for r in result.to_pylist()}


def test_bounce_and_engagement_follow_their_definitions(built):
    engine = built.resources["engine"]
    rows = run_sessions(engine, [
        event("one-view", 0),
        event("two-views", 0), event("two-views", 3, page="/category/shoes"),
        event("long-single-view", 0), event("long-single-view", 15, "click", product="P1"),
        event("quick-click", 0), event("quick-click", 5, "click", product="P1"),
    ])
    assert (rows["one-view"]["bounced"], rows["one-view"]["engaged"]) == (True, False)
    assert (rows["two-views"]["bounced"], rows["two-views"]["engaged"]) == (False, True)
    assert (rows["long-single-view"]["bounced"], rows["long-single-view"]["engaged"]) == (True, True)
    assert (rows["quick-click"]["bounced"], rows["quick-click"]["engaged"]) == (True, False)


def test_the_funnel_is_closed_and_ordered(built):
    engine = built.resources["engine"]
    rows = run_sessions(engine, [
        # Added to cart before viewing any product page: the add does not count as step 2.
        event("out-of-order", 0, "add_to_cart", page="/product/P1", product="P1"),
        event("out-of-order", 5, "view", page="/product/P1", product="P1"),
        event("in-order", 0, "view", page="/product/P1", product="P1"),
        event("in-order", 5, "add_to_cart", page="/product/P1", product="P1"),
        event("in-order", 9, "view", page="/checkout"),
        event("in-order", 12, "purchase", page="/checkout/confirmation", product="P1"),
    ])
    assert rows["out-of-order"]["product_view_at"] is not None and rows["out-of-order"]["add_to_cart_at"] is None
    assert rows["out-of-order"]["added_to_cart"]  # the flag says an add happened; the funnel says it was out of order
    assert rows["in-order"]["purchase_at"] == T0 + timedelta(seconds=12) and rows["in-order"]["reached_checkout"]


def test_steps_and_pages_of_a_hand_made_session(built):
    # Two category pages in a row are one step; two events at the same instant keep event_id order, as
    # python_paths orders them; the last step goes to exit. The landing and exit classes are those of the first
    # and last page.
    engine = built.resources["engine"]
    events = [event("s", 0, page="/"), event("s", 10, page="/category/a"), event("s", 20, page="/category/b"),
              {**event("s", 30, page="/product/P1", product="P1"), "event_id": "s-30-b"},
              {**event("s", 30, page="/cart"), "event_id": "s-30-a"},
              event("s", 40, "add_to_cart", page="/cart", product="P1")]
    params = {"first_day": "2026-11-02", "last_day": "2026-11-02", **PipelineSettings().page_params()}
    result, _ = engine.query("models/paths_daily.sql", params, inputs={"events": pa.Table.from_pylist(events)})
    got = {(r["dt"].isoformat(), r["step"], r["from_page_class"], r["to_page_class"]): r["sessions"]
           for r in result.to_pylist()}
    assert got == python_paths(events) == {
        ("2026-11-02", 1, "home", "category"): 1, ("2026-11-02", 2, "category", "cart"): 1,
        ("2026-11-02", 3, "cart", "product"): 1, ("2026-11-02", 4, "product", "cart"): 1,
        ("2026-11-02", 5, "cart", "exit"): 1}
    row = run_sessions(engine, events)["s"]
    assert (row["landing_page_class"], row["exit_page_class"], row["add_to_carts"]) == ("home", "cart", 1)


@pytest.mark.parametrize("referrer, channel", [
    (None, "direct"),
    ("", "direct"),
    ("https://www.google.com/search?q=boots", "organic_search"),
    ("https://www.google.co.uk/search?q=boots", "organic_search"),
    ("https://duckduckgo.com/?q=boots", "organic_search"),
    ("https://www.google.com/aclk?sa=l&gclid=abc", "paid_search"),
    ("https://shop.example/landing?utm_medium=cpc&utm_source=bing", "paid_search"),
    ("https://www.instagram.com/p/xyz", "social"),
    ("https://t.co/abc", "social"),
    ("https://m.facebook.com/story", "social"),
    ("https://mail.shop-news.example/c/1?utm_medium=email", "email"),
    ("https://newsletter.example/?utm_medium=email&utm_campaign=x", "email"),
    ("https://fashionblog.example/best-boots", "referral"),
    ("https://notgoogle.com/page", "referral"),
])
def test_channel_rules(built, referrer, channel):
    rows = run_sessions(built.resources["engine"], [event("s", 0, referrer=referrer)])
    assert rows["s"]["channel"] == channel
