"""The models' definitions in plain Python, to hold the SQL to: sessions and the closed, ordered funnel."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta

from clickstream_assets.pages import FUNNEL_STEPS, PAGE_CLASSES, page_class

STEPS = list(FUNNEL_STEPS)  # product_view, add_to_cart, checkout, purchase


def python_sessions(events, page_classes=PAGE_CLASSES, funnel_steps=FUNNEL_STEPS) -> dict[str, dict]:
    """One entry per session_id: its day, counts, bounce and engagement, and the time each funnel step was reached."""
    by_session = defaultdict(list)
    for e in events:
        by_session[e["session_id"]].append(e)
    out = {}
    for sid, evs in by_session.items():
        evs.sort(key=lambda e: (e["event_ts"], e["event_id"]))
        keys = [f"{e['event_type']}:{page_class(e['page'], page_classes)}" for e in evs]
        matches = {step: [re.search(funnel_steps[step], k) is not None for k in keys] for step in STEPS}
        views = sum(e["event_type"] == "view" for e in evs)
        duration = (evs[-1]["event_ts"] - evs[0]["event_ts"]).total_seconds()
        purchased = any(matches["purchase"])
        reached: list = [None] * len(STEPS)
        for k, step in enumerate(STEPS):
            if k and reached[k - 1] is None:
                break
            reached[k] = next((e["event_ts"] for e, hit in zip(evs, matches[step])
                               if hit and (k == 0 or e["event_ts"] >= reached[k - 1])), None)
        out[sid] = {"dt": evs[0]["event_ts"].date().isoformat(), "events": len(evs), "page_views": views,
                    "bounced": views == 1, "engaged": views >= 2 or int(duration) >= 10 or purchased,
                    "steps": reached, "device_type": evs[0]["device_type"], "user_id": evs[0]["user_id"],
                    "landing_page_class": page_class(evs[0]["page"], page_classes)}
    return out


def funnel_totals(sessions) -> dict[str, int]:
    """Sessions reaching each step, summed over the sessions given."""
    return {"sessions": len(sessions),
            **{step: sum(1 for s in sessions if s["steps"][k] is not None) for k, step in enumerate(STEPS)}}


# -- revenue, attribution, paths, lifecycle ------------------------------------------------------------------------

def python_orders(events) -> dict[str, dict]:
    """One entry per order: every purchase line sharing an order_id (else its own event_id), on its first line's day."""
    lines = defaultdict(list)
    for e in events:
        if e["event_type"] == "purchase":
            lines[e.get("order_id") or e["event_id"]].append(e)
    out = {}
    for key, ls in lines.items():
        ls.sort(key=lambda e: e["event_ts"])
        priced = [e["price"] * (e.get("quantity") or 1) for e in ls if e.get("price") is not None]
        out[key] = {"dt": ls[0]["event_ts"].date().isoformat(), "session_id": ls[0]["session_id"],
                    "user_id": ls[0]["user_id"], "ordered_at": ls[0]["event_ts"], "currency": ls[0].get("currency"),
                    "lines": len(ls), "items": sum(e.get("quantity") or 1 for e in ls), "revenue": sum(priced)}
    return out


def attribute(order: dict, user_sessions: list[dict], lookback_days: int = 30) -> tuple[str, str]:
    """(first_touch, last_non_direct) channels of an order over the user's sessions in the lookback."""
    touches = sorted((s for s in user_sessions
                      if order["ordered_at"] - timedelta(days=lookback_days) <= s["session_start"] <= order["ordered_at"]),
                     key=lambda s: s["session_start"])
    non_direct = [s for s in touches if s["channel"] != "direct"]
    return touches[0]["channel"], non_direct[-1]["channel"] if non_direct else "direct"


def python_paths(events, page_classes=PAGE_CLASSES, max_step: int = 10) -> dict[tuple, int]:
    """(dt, step, from_class, to_class) -> sessions: a step is a run of events on one page class."""
    by_session = defaultdict(list)
    for e in events:
        by_session[e["session_id"]].append(e)
    counts: dict[tuple, int] = defaultdict(int)
    for evs in by_session.values():
        evs.sort(key=lambda e: (e["event_ts"], e["event_id"]))
        classes = [page_class(e["page"], page_classes) for e in evs]
        steps = [c for i, c in enumerate(classes) if i == 0 or classes[i - 1] != c]
        day = evs[0]["event_ts"].date().isoformat()
        for k, current in enumerate(steps[:max_step]):
            counts[(day, k + 1, current, steps[k + 1] if k + 1 < len(steps) else "exit")] += 1
    return dict(counts)


def python_lifecycle(sessions) -> dict[tuple, int]:
    """(week, state) -> users, over the weeks with sessions; weeks start on Monday."""
    active = defaultdict(set)
    for s in sessions:
        day = date.fromisoformat(s["dt"]) if isinstance(s["dt"], str) else s["dt"]
        active[day - timedelta(days=day.weekday())].add(s["user_id"])
    first: dict[str, object] = {}
    for week in sorted(active):
        for user in active[week]:
            first.setdefault(user, week)
    counts: dict[tuple, int] = defaultdict(int)
    for week in active:
        for user, seen in first.items():
            if seen > week:
                continue
            if seen == week:
                state = "new"
            elif user in active[week]:
                state = "returning" if user in active.get(week - timedelta(days=7), ()) else "resurrecting"
            else:
                state = "dormant"
            counts[(week, state)] += 1
    return dict(counts)


def nearest_rank(values: list[int], percent: int) -> int | None:
    """The smallest value with at least ``percent`` % of the values at or below it."""
    ordered = sorted(values)
    for n, value in enumerate(ordered, start=1):
        if n * 100 >= len(ordered) * percent:
            return value
    return None
