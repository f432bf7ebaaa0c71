"""Simulated shoppers: users, sessions and page flows that behave like a real shop's traffic.

Facts the models and checks rely on (tests hold the simulator to them):
- a user is ``new`` in their first session and ``returning`` in every later one (pre-existing users return);
- a session keeps one device, browser, location and referrer, and never idles 30 minutes or more;
- per session, purchases <= add_to_carts <= product views, and funnel events come in order;
- product popularity is Zipf-like, and traffic follows a daily curve.
The probabilities it draws from (:class:`Behaviour`) are the planted truth later checks compare the models with.
"""

from __future__ import annotations

import heapq
import math
import random
from bisect import bisect
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from itertools import accumulate

from clickstream_assets.contract import CHECKOUT_PAGE, CONFIRMATION_PAGE, PRODUCT_PAGE_PREFIX, SCHEMA_VERSION
from clickstream_assets.producer.pools import (
    BROWSERS_BY_DEVICE,
    CATEGORIES,
    SEARCH_ENGINES,
    SOCIAL_SITES,
    Pools,
    build_pools,
    quoted,
)

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

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class User:
    user_id: str
    device: str
    location: str
    sessions: int = 0


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


def _weighted(options: dict[str, float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    names = tuple(options)
    cum, total = [], 0.0
    for name in names:
        total += options[name]
        cum.append(total)
    return names, tuple(c / total for c in cum)


_LINE = (
    '{"event_id":"%08x-%04x-4%03x-%04x-%012x","schema_version":' + str(SCHEMA_VERSION) + ',"timestamp":"%s%s.%03dZ",'
    "%s,%s}"
)
_VIEW = '"event_type":"view","page":%s,"product_id":null'


def _gap_quantiles(size: int = 4096) -> tuple[int, ...]:
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


_GAPS = _gap_quantiles()
# "HH:MM:SS" for every second of a day, formatted once instead of per event.
_CLOCK = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400))
_UUID_MASK = ~(0xF << 76) & ~(0x3 << 62)
_UUID_BITS = (0x4 << 76) | (0x2 << 62)


class Simulator:
    """Generates (arrival_ms, line) pairs, session by session, deterministically from ``seed``."""

    def __init__(
        self,
        seed: int = 1,
        users: int = 20_000,
        products: int = 2_000,
        behaviour: Behaviour | None = None,
        mess: Mess | None = None,
        stream_seed: int | None = None,
    ):
        self.behaviour = behaviour or Behaviour()
        self.mess = mess or Mess()
        self.counts = MessCounts()
        self.events = 0
        self.sessions = 0
        self.pools: Pools = build_pools(seed, products)
        # The user pool belongs to the seed; the stream of sessions may be offset (live slices).
        self.rng = random.Random(f"sessions/{seed}/{stream_seed or 0}")
        pool_rng = random.Random(f"users/{seed}")
        self._channels, self._channel_cum = _weighted(self.behaviour.channel_weights)
        self._devices, self._device_cum = _weighted(self.behaviour.device_weights)
        self._browsers = {
            d: _weighted({name: w for name, w in options}) for d, options in BROWSERS_BY_DEVICE.items()
        }
        location_cum, total = [], 0.0
        for w in self.pools.location_weights:
            total += w
            location_cum.append(total / sum(self.pools.location_weights))
        self._location_cum = tuple(location_cum)
        self.existing_users = [self._new_user(pool_rng) for _ in range(users)]
        self._returns: list[tuple[int, int, User]] = []  # (due_ms, tiebreak, user)
        self._tiebreak = 0
        self._day_prefix: dict[int, str] = {}
        self._mean_events: float | None = None
        p = self.pools
        self._product_q = tuple(quoted(pid) for pid in p.product_ids)
        self._product_page_q = tuple(quoted(PRODUCT_PAGE_PREFIX + pid) for pid in p.product_ids)
        self._category_page_q = tuple(quoted(f"/category/{c}") for c in CATEGORIES)
        self._search_page_q = tuple(quoted(f"/search?q={t}") for t in p.search_terms)
        self._home_q, self._cart_q = quoted("/"), quoted("/cart")
        self._checkout_q, self._confirmation_q = quoted(CHECKOUT_PAGE), quoted(CONFIRMATION_PAGE)
        self._view_mid = tuple(
            f'"event_type":"view","page":{page},"product_id":{pid}'
            for page, pid in zip(self._product_page_q, self._product_q)
        )
        self._add_mid = tuple(
            f'"event_type":"add_to_cart","page":{page},"product_id":{pid}'
            for page, pid in zip(self._product_page_q, self._product_q)
        )
        self._purchase_mid = tuple(
            f'"event_type":"purchase","page":{self._confirmation_q},"product_id":{pid}' for pid in self._product_q
        )
        self._click_mid = '"event_type":"click","page":%s,"product_id":%s'

    @property
    def mean_events_per_session(self) -> float:
        """Measured once on a side stream of flows, so the main stream (and its output) is not disturbed."""
        if self._mean_events is None:
            main, self.rng = self.rng, random.Random(0)
            devices, channels = self._devices, self._channels
            flows = [len(self.session_flow(devices[n % len(devices)], channels[n % len(channels)])) for n in range(3000)]
            self.rng = main
            self._mean_events = sum(flows) / len(flows) * 1.0
        return self._mean_events

    # -- users and sessions -------------------------------------------------------------------------------------
    def _new_user(self, rng: random.Random) -> User:
        device = self._devices[bisect(self._device_cum, rng.random())]
        location = self.pools.locations[bisect(self._location_cum, rng.random() * 0.999999)]
        return User(user_id=f"u_{rng.getrandbits(48):012x}", device=device, location=location)

    def _pick_user(self, start_ms: int) -> tuple[User, str]:
        rng = self.rng
        if rng.random() < self.behaviour.new_user_share:
            return self._new_user(rng), "new"
        if self._returns and self._returns[0][0] <= start_ms:
            return heapq.heappop(self._returns)[2], "returning"
        return self.existing_users[rng.randrange(len(self.existing_users))], "returning"

    def _referrer(self, channel: str) -> str | None:
        rng = self.rng
        term = self.pools.search_terms[rng.randrange(len(self.pools.search_terms))]
        if channel == "direct":
            return None
        if channel == "organic_search":
            return f"{rng.choice(SEARCH_ENGINES)}search?q={term}"
        if channel == "paid_search":
            return f"{rng.choice(SEARCH_ENGINES)}aclk?q={term}&gclid={rng.getrandbits(40):x}"
        if channel == "social":
            return f"{rng.choice(SOCIAL_SITES)}{term}"
        if channel == "email":
            return f"https://mail.shop-news.example/c/{rng.getrandbits(32):x}?utm_medium=email&utm_campaign={term}"
        return f"{rng.choice(self.pools.referral_sites)}{term}-review"

    def _product(self) -> int:
        p = self.pools
        return bisect(p.product_cum_weights, self.rng.random() * p.product_cum_weights[-1])

    def session_flow(self, device: str, channel: str) -> list[str]:
        """The event_type/page/product_id JSON fragments of one session, in order."""
        rng, b = self.rng, self.behaviour
        random_ = rng.random
        view_mid, click_mid = self._view_mid, self._click_mid
        flow: list[str] = []
        viewed: list[int] = []
        landing = random_()
        if channel in ("social", "paid_search") and landing < 0.5:
            i = self._product()
            flow.append(view_mid[i])
            viewed.append(i)
            page = self._product_page_q[i]
        elif channel in ("organic_search", "email") and landing < 0.4:
            page = self._category_page_q[int(random_() * len(CATEGORIES))]
            flow.append(_VIEW % page)
        else:
            page = self._home_q
            flow.append(_VIEW % page)
        if random_() < b.bounce_rate[channel]:
            return flow
        wants_product = random_() < b.product_view_rate
        browse_steps = 1 + min(int(rng.expovariate(1 / 3.0)), 15)
        for _ in range(browse_steps):
            if wants_product and (not viewed or random_() < 0.55):
                i = self._product()
                flow.append(click_mid % (page, self._product_q[i]))
                flow.append(view_mid[i])
                viewed.append(i)
                page = self._product_page_q[i]
            else:
                if random_() < 0.5:
                    page = self._category_page_q[int(random_() * len(CATEGORIES))]
                else:
                    page = self._search_page_q[int(random_() * len(self._search_page_q))]
                flow.append(_VIEW % page)
        if not viewed or random_() >= b.add_to_cart_rate[device]:
            return flow
        cart = [viewed[-1]]
        if len(viewed) > 1 and random_() < 0.3:
            cart.append(viewed[-2])
        flow.extend(self._add_mid[i] for i in cart)
        if random_() >= b.checkout_rate:
            return flow
        flow.append(_VIEW % self._cart_q)
        flow.append(_VIEW % self._checkout_q)
        if random_() < b.purchase_rate[device]:
            flow.extend(self._purchase_mid[i] for i in cart)
        return flow

    # -- events ---------------------------------------------------------------------------------------------------
    def _prefix(self, day_index: int) -> str:
        prefix = self._day_prefix.get(day_index)
        if prefix is None:
            prefix = datetime.fromtimestamp(day_index * 86_400, tz=timezone.utc).strftime("%Y-%m-%dT")
            self._day_prefix[day_index] = prefix
        return prefix

    def session_events(self, start_ms: int, limit: int) -> tuple[list[int], list[str]]:
        """Event times (ms) and JSON lines of one session starting at ``start_ms``, at most ``limit`` events."""
        rng = self.rng
        random_, getrandbits = rng.random, rng.getrandbits
        user, user_type = self._pick_user(start_ms)
        device = user.device if random_() < self.behaviour.same_device_rate else self._devices[
            bisect(self._device_cum, random_())
        ]
        names, cum = self._browsers[device]
        browser = names[bisect(cum, random_() * 0.999999)]
        channel = self._channels[bisect(self._channel_cum, random_() * 0.999999)]
        fixed = (
            f'"user_id":{quoted(user.user_id)},"session_id":"{self._uuid()}","device_type":"{device}",'
            f'"browser":{quoted(browser)},"location":{quoted(user.location)},'
            f'"referrer_url":{quoted(self._referrer(channel))},"user_type":"{user_type}"'
        )
        self.sessions += 1
        user.sessions += 1
        mids = self.session_flow(device, channel)[:limit]
        gaps, size = _GAPS, len(_GAPS)
        times = list(accumulate([start_ms] + [gaps[int(random_() * size)] for _ in range(len(mids) - 1)]))
        if times[-1] - start_ms > MAX_SESSION_MS:
            cut = bisect(times, start_ms + MAX_SESSION_MS)
            times, mids = times[:cut], mids[:cut]
        prefixes, clock, line = self._day_prefix, _CLOCK, _LINE
        for day in {times[0] // DAY_MS, times[-1] // DAY_MS}:
            self._prefix(day)
        lines = [
            line
            % (
                r >> 90,
                (r >> 74) & 0xFFFF,
                (r >> 62) & 0xFFF,
                0x8000 | ((r >> 48) & 0x3FFF),
                r & 0xFFFFFFFFFFFF,
                prefixes[t // DAY_MS],
                clock[t % DAY_MS // 1000],
                t % 1000,
                mid,
                fixed,
            )
            for t, mid, r in zip(times, mids, [getrandbits(122) for _ in mids])  # 122 random bits: a UUID v4
        ]
        if random_() < self.behaviour.return_rate:
            due = times[-1] + int(rng.expovariate(1 / self.behaviour.mean_days_to_return) * DAY_MS)
            self._tiebreak += 1
            heapq.heappush(self._returns, (due + SESSION_TIMEOUT_MS, self._tiebreak, user))
        return times, lines

    def _uuid(self) -> str:
        h = "%032x" % ((self.rng.getrandbits(128) & _UUID_MASK) | _UUID_BITS)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def session_starts(self, day: date, count: int, after_ms: int | None = None) -> list[int]:
        """``count`` sorted session start times within ``day``, following the daily curve (after ``after_ms``)."""
        rng = self.rng
        base = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
        if after_ms is not None:
            return sorted(rng.randrange(after_ms, max(after_ms + 1, base + DAY_MS)) for _ in range(count))
        picked = rng.choices(range(24), weights=HOURLY_TRAFFIC, k=count)
        return sorted(base + h * 3_600_000 + rng.randrange(3_600_000) for h in picked)
