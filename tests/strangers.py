"""Events our simulator did not write: the original project's shape and other trackers' habits.

The original project's producer sends 11 fields (no event_id, no schema_version), pages named by kind
(``home``, ``product``, ``checkout``) and ``datetime.isoformat()`` timestamps, which carry no zone and drop the
fraction when it is zero. Other trackers add offsets (``+02:00``), ``Z`` and nanoseconds. This writes sessions
of that shape, deterministic per seed, plus exact redeliveries of some lines (Firehose is at least once).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

DEVICES = ("mobile", "desktop", "tablet")
BROWSERS = ("Chrome", "Safari", "Firefox", "Edge")
LOCATIONS = ("USA", "India", "Germany", "Brazil", "Lyon, FR")
REFERRERS = (None, "https://google.com", "https://facebook.com", "https://newsletter.example.com/?utm_medium=email")


@dataclass
class StrangerEvents:
    records: list[dict] = field(default_factory=list)  # each event once, as sent
    lines: list[bytes] = field(default_factory=list)  # what the tracker delivered, redeliveries included
    redelivered: int = 0


def _stamp(moment: datetime, style: int) -> str:
    """The same instant the way different trackers write it."""
    if style == 0:
        return moment.isoformat()  # naive UTC, the seed's habit: no zone, fraction dropped when zero
    if style == 1:
        return moment.replace(tzinfo=timezone.utc).isoformat()  # +00:00
    if style == 2:
        local = moment.replace(tzinfo=timezone.utc).astimezone(timezone(timedelta(hours=2)))
        return local.isoformat()  # +02:00, the same instant
    if style == 3:
        local = moment.replace(tzinfo=timezone.utc).astimezone(timezone(timedelta(hours=-5, minutes=-30)))
        return local.isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds and Z


def _session_pages(rng: random.Random, products: list[str]) -> list[tuple[str, str, str | None]]:
    """(event_type, page, product_id) of one visit: home, browse, product, cart, checkout, purchase, with exits."""
    steps: list[tuple[str, str, str | None]] = [("view", "home", None)]
    if rng.random() < 0.25:
        return steps  # a bounce
    if rng.random() < 0.5:
        steps.append(("view", "category", None))
    product = rng.choice(products)
    steps.append(("view", "product", product))
    if rng.random() < 0.3:
        steps.append(("click", "product", product))
    if rng.random() < 0.45:
        return steps
    steps.append(("add_to_cart", "product", product))
    if rng.random() < 0.5:
        steps.append(("view", "cart", None))
    if rng.random() < 0.35:
        return steps
    steps.append(("view", "checkout", None))
    if rng.random() < 0.4:
        return steps
    steps.append(("purchase", "checkout", product))
    return steps


def stranger_events(
    first_day: date, days: int, sessions_per_day: int, seed: int = 11, redelivery_rate: float = 0.02,
    users: int = 400,
) -> StrangerEvents:
    rng = random.Random(seed)
    products = [f"prod_{i}" for i in range(60)]
    seen_users: set[str] = set()
    out = StrangerEvents()
    for day in range(days):
        midnight = datetime.combine(first_day + timedelta(days=day), datetime.min.time())
        for _ in range(sessions_per_day):
            user = f"user_{rng.randrange(users)}"
            user_type = "returning" if user in seen_users else "new"
            seen_users.add(user)
            session = f"sess_{rng.getrandbits(48):012x}"
            device, browser = rng.choice(DEVICES), rng.choice(BROWSERS)
            location, referrer = rng.choice(LOCATIONS), rng.choice(REFERRERS)
            # Sessions start before 23:00 so none runs past the last day of the history.
            moment = midnight + timedelta(seconds=rng.randrange(0, 23 * 3600),
                                          microseconds=rng.choice([0, rng.randrange(1, 1_000_000)]))
            style = rng.randrange(5)
            for event_type, page, product in _session_pages(rng, products):
                record = {
                    "user_id": user, "session_id": session, "event_type": event_type, "page": page,
                    "product_id": product, "timestamp": _stamp(moment, style), "device_type": device,
                    "referrer_url": referrer, "location": location, "browser": browser, "user_type": user_type,
                }
                out.records.append(record)
                line = json.dumps(record).encode()
                out.lines.append(line)
                if rng.random() < redelivery_rate:
                    out.lines.append(line)
                    out.redelivered += 1
                moment += timedelta(seconds=rng.randrange(3, 240))
    return out
