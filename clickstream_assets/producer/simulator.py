"""Simulated shoppers: what they do and how often. :mod:`columnar` draws them; this module holds the rates.

Facts the models and checks rely on (tests hold the simulator to them):
- a user is ``new`` in their first session and ``returning`` in every later one (pre-existing users return);
- a session keeps one device, browser, location and referrer, and never idles 30 minutes or more;
- per session, purchases <= add_to_carts <= product views, and funnel events come in order;
- product popularity is Zipf-like, and traffic follows a daily curve;
- a product has one price (log-normal: many cheap, a few dear), a cart line a quantity kept to the purchase, and a
  buying session places one order (all its purchase lines, one order_id, one timestamp) and sometimes a second;
  every price is in the shop's one currency.
The probabilities it draws from (:class:`Behaviour`) are the planted truth later checks compare the models with.
The mess (:class:`Mess`) is injected by the runner and counted exactly (:class:`MessCounts`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

# Trackers start a new session after 30 minutes of inactivity; the simulator stays under it.
SESSION_TIMEOUT_MS = 30 * 60 * 1000
MAX_GAP_MS = 20 * 60 * 1000
MAX_SESSION_MS = 3 * 3600 * 1000
DAY_MS = 86_400_000

# Share of a day's sessions starting in each UTC hour: quiet nights, an evening peak.
HOURLY_TRAFFIC = (2, 1.5, 1, 1, 1, 1.5, 2.5, 4, 5, 5.5, 6, 6.5, 7, 7, 6.5, 6.5, 7, 8, 9, 9.5, 9, 7, 5, 3)


@dataclass(frozen=True)
class Behaviour:
    """Probabilities the simulator draws from: the planted truth recorded with every producer run."""

    channel_weights: dict[str, float] = field(
        default_factory=lambda: {
            "direct": 0.25,
            "organic_search": 0.30,
            "paid_search": 0.12,
            "social": 0.15,
            "email": 0.08,
            "referral": 0.10,
        }
    )
    device_weights: dict[str, float] = field(
        default_factory=lambda: {"mobile": 0.58, "desktop": 0.35, "tablet": 0.07}
    )
    bounce_rate: dict[str, float] = field(
        default_factory=lambda: {
            "direct": 0.30,
            "organic_search": 0.38,
            "paid_search": 0.42,
            "social": 0.55,
            "email": 0.25,
            "referral": 0.40,
        }
    )
    product_view_rate: float = 0.85  # of sessions that did not bounce
    add_to_cart_rate: dict[str, float] = field(
        default_factory=lambda: {"desktop": 0.30, "mobile": 0.20, "tablet": 0.25}
    )
    checkout_rate: float = 0.60  # of sessions with an add_to_cart
    purchase_rate: dict[str, float] = field(default_factory=lambda: {"desktop": 0.70, "mobile": 0.55, "tablet": 0.60})
    new_user_share: float = 0.30  # of sessions, from users never seen before
    return_rate: float = 0.45  # chance a user comes back after a session
    mean_days_to_return: float = 2.5
    same_device_rate: float = 0.9
    # Commerce (contract version 2). Prices: exp(N(log(median), sigma)), rounded to .99, fixed per product.
    currency: str = "USD"
    median_price: float = 25.0
    price_sigma: float = 0.9
    quantity_weights: dict[int, float] = field(default_factory=lambda: {1: 0.72, 2: 0.18, 3: 0.07, 4: 0.03})
    second_item_rate: float = 0.3  # of carts, when the session viewed two products
    third_item_rate: float = 0.35  # of two-item carts, when the session viewed three
    reorder_rate: float = 0.08  # of buying sessions: a second order (the last item viewed, added, bought again)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def orders_per_purchasing_session(self) -> float:
        return 1 + self.reorder_rate


@dataclass
class Mess:
    duplicate_rate: float = 0.0
    malformed_rate: float = 0.0
    late_rate: float = 0.0
    future_rate: float = 0.0


@dataclass
class MessCounts:
    duplicates: int = 0
    late: int = 0
    future: int = 0
    malformed: dict[str, int] = field(
        default_factory=lambda: {
            "malformed_json": 0,
            "missing_field": 0,
            "bad_type": 0,
            "unknown_event_type": 0,
            "bad_timestamp": 0,
        }
    )

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())


def gap_quantiles(size: int = 4096) -> tuple[int, ...]:
    """Inverse CDF of the gap between events, sampled by one random index per event.

    Mostly seconds (exponential, mean ~22 s), 5% are minutes of reading (3-20 min); never a session timeout.
    """
    gaps = []
    for i in range(size):
        u = (i + 0.5) / size
        if u < 0.95:
            gaps.append(min(int(-math.log(1 - u / 0.95) * 22_000) + 1_500, MAX_GAP_MS))
        else:
            gaps.append(180_000 + int((u - 0.95) / 0.05 * (MAX_GAP_MS - 180_000)))
    return tuple(gaps)
