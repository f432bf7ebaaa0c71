"""The models' definitions in plain Python, to hold the SQL to: sessions and the closed, ordered funnel."""

from __future__ import annotations

import re
from collections import defaultdict

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
