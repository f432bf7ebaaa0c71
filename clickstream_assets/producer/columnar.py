"""Shoppers drawn in arrays: a batch of sessions and all their events at once, no Python object per event.

The same shop as :mod:`clickstream_assets.producer.simulator` (its docstring lists the facts the tests hold), drawn
with numpy: per session a user, device, browser, channel and referrer; per session the outcome of each funnel step;
then the events as columns (time, type, page, product, session). :mod:`ndjson` turns the columns into lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clickstream_assets.producer.pools import BROWSERS_BY_DEVICE, CATEGORIES, build_pools
from clickstream_assets.producer.simulator import (
    DAY_MS,
    HOURLY_TRAFFIC,
    MAX_SESSION_MS,
    SESSION_TIMEOUT_MS,
    Behaviour,
    MessCounts,
    gap_quantiles,
)

# Event types in the contract's order; pages: fixed ones first, then categories, searches, products.
VIEW, CLICK, ADD, PURCHASE = 0, 1, 2, 3
HOME, CART, CHECKOUT, CONFIRMATION = 0, 1, 2, 3
FIXED_PAGES = 4
GAPS = np.array(gap_quantiles(), dtype=np.int64)
CLICK_SHARE_AFTER_FIRST = 0.55  # chance a later browse step opens a product, once one has been seen
MAX_BROWSE_STEPS = 16


class Guide:
    """``searchsorted(cum, u, side="right")`` for uniform ``u`` in [0, 1), the same answers ~10x faster for long
    tables (2,000 Zipf products): ``u`` falls in one of ``K`` equal buckets (K a power of two, so ``u * K`` and the
    bucket edges are exact); a bucket no cumulative weight falls inside answers by lookup, the few others search."""

    def __init__(self, cum: np.ndarray):
        self.cum = np.asarray(cum, dtype=np.float64)
        self.k = 1 << max(10, int(np.ceil(np.log2(len(self.cum) * 16))))
        edges = np.arange(self.k + 1, dtype=np.float64) / self.k
        self.low = np.searchsorted(self.cum, edges[:-1], side="right")
        self.high = np.searchsorted(self.cum, edges[1:], side="left")

    def __len__(self) -> int:
        return len(self.cum)

    def index(self, u: np.ndarray) -> np.ndarray:
        bucket = (u * self.k).astype(np.int64)
        out = self.low[bucket]
        mixed = np.flatnonzero(out != self.high[bucket])
        out[mixed] = np.searchsorted(self.cum, u[mixed], side="right")
        return out


def _cum(weights) -> Guide:
    w = np.asarray(weights, dtype=np.float64)
    return Guide(np.cumsum(w) / w.sum())


def _pick(rng: np.random.Generator, cum: Guide, n: int) -> np.ndarray:
    return np.minimum(cum.index(rng.random(n)), len(cum) - 1)


@dataclass
class Events:
    """One batch of events as columns, in session order; ``session`` indexes the batch's ``Sessions``."""

    ts: np.ndarray  # int64 ms
    kind: np.ndarray  # int8: VIEW, CLICK, ADD, PURCHASE
    page: np.ndarray  # int32 into the simulator's page table
    product: np.ndarray  # int32, -1 for none
    session: np.ndarray  # int32
    id_hi: np.ndarray  # uint64: event_id bits
    id_lo: np.ndarray
    quantity: np.ndarray  # int16: a cart or purchase line's quantity, 0 for other events
    order: np.ndarray  # int64, 48 bits: a purchase line's order, -1 for other events

    def take(self, index: np.ndarray) -> Events:
        return Events(*(getattr(self, f)[index] for f in self.__dataclass_fields__))

    def __len__(self) -> int:
        return len(self.ts)


@dataclass
class Sessions:
    """One batch of sessions as columns."""

    start: np.ndarray  # int64 ms
    user_id: np.ndarray  # int64, 48 bits
    new: np.ndarray  # bool: the user's first session
    device: np.ndarray  # int8 into DEVICES
    browser: np.ndarray  # int16 into the browser table
    location: np.ndarray  # int32 into pools.locations
    channel: np.ndarray  # int8 into CHANNELS
    term: np.ndarray  # int32 into pools.search_terms
    site: np.ndarray  # int32: search engine, social or referral site, by channel
    tag: np.ndarray  # int64: gclid or e-mail campaign id
    id_hi: np.ndarray  # uint64: session_id bits
    id_lo: np.ndarray
    delay: np.ndarray  # int64 ms: the device's network delay, one per visit


class ColumnarSimulator:
    """Sessions and events for sorted session starts, deterministically from ``seed``."""

    def __init__(self, seed: int = 1, users: int = 20_000, products: int = 2_000,
                 behaviour: Behaviour | None = None, stream_seed: int | None = None):
        b = self.behaviour = behaviour or Behaviour()
        self.counts = MessCounts()
        self.sessions = 0
        self.pools = p = build_pools(seed, products)
        self.rng = np.random.default_rng([seed, stream_seed or 0, 0x5E55])
        self.channels = tuple(b.channel_weights)
        self.devices = tuple(b.device_weights)
        self._channel_cum = _cum(list(b.channel_weights.values()))
        self._device_cum = _cum(list(b.device_weights.values()))
        self.browsers = tuple(sorted({name for opts in BROWSERS_BY_DEVICE.values() for name, _ in opts}))
        self._browser_of = [
            (np.array([self.browsers.index(n) for n, _ in BROWSERS_BY_DEVICE[d]]), _cum([w for _, w in BROWSERS_BY_DEVICE[d]]))
            for d in self.devices
        ]
        self._location_cum = _cum(p.location_weights)
        self._product_cum = Guide(np.asarray(p.product_cum_weights) / p.product_cum_weights[-1])
        # One price per product, in cents, fixed for the run: log-normal (skewed), ending in .99.
        dear = np.random.default_rng([seed, 0x9A1CE]).lognormal(np.log(b.median_price), b.price_sigma, products)
        self.price_cents = np.maximum(1, np.round(dear)).astype(np.int64) * 100 - 1
        self.quantities = np.array(sorted(b.quantity_weights), dtype=np.int16)
        self._quantity_cum = _cum([b.quantity_weights[q] for q in sorted(b.quantity_weights)])
        self.pages = ("/", "/cart", "/checkout", "/checkout/confirmation") + tuple(
            f"/category/{c}" for c in CATEGORIES) + tuple(f"/search?q={t}" for t in p.search_terms) + tuple(
            f"/product/{pid}" for pid in p.product_ids)
        self._category0 = FIXED_PAGES
        self._search0 = FIXED_PAGES + len(CATEGORIES)
        self._product0 = self._search0 + len(p.search_terms)
        pool = np.random.default_rng([seed, 0x05E6])
        self.user_id = pool.integers(0, 1 << 48, users, dtype=np.int64)
        self.user_device = _pick(pool, self._device_cum, users).astype(np.int8)
        self.user_location = _pick(pool, self._location_cum, users).astype(np.int32)
        self._initial_users = users
        self._due = np.empty(0, dtype=np.int64)  # returns scheduled, sorted by due time
        self._due_user = np.empty(0, dtype=np.int64)
        self._mean_events: float | None = None
        self._bounce = np.array([b.bounce_rate[c] for c in self.channels])
        # By channel code (comparing codes, not names: string arrays compare ~10x slower)
        self._lands_on_product = np.array([c in ("social", "paid_search") for c in self.channels])
        self._lands_on_category = np.array([c in ("organic_search", "email") for c in self.channels])
        self._add_rate = np.array([b.add_to_cart_rate[d] for d in self.devices])
        self._buy_rate = np.array([b.purchase_rate[d] for d in self.devices])

    # -- session starts -------------------------------------------------------------------------------------------
    def day_starts(self, day_ms: int, count: int) -> np.ndarray:
        """``count`` sorted start times within the day, following the daily curve."""
        hours = _pick(self.rng, _cum(HOURLY_TRAFFIC), count)
        return np.sort(day_ms + hours * 3_600_000 + self.rng.integers(0, 3_600_000, count))

    def uniform_starts(self, from_ms: int, to_ms: int, count: int) -> np.ndarray:
        return np.sort(self.rng.integers(from_ms, max(from_ms + 1, to_ms), count))

    @property
    def mean_events_per_session(self) -> float:
        """Measured once on a side generator, so the main stream (and its output) is not disturbed."""
        if self._mean_events is None:
            main, self.rng = self.rng, np.random.default_rng(0)
            n = 4000
            device = _pick(self.rng, self._device_cum, n)
            channel = _pick(self.rng, self._channel_cum, n)
            kind, *_, per_session = self._flows(device, channel)
            self.rng = main
            self._mean_events = float(len(kind) / n)
        return self._mean_events

    # -- users ----------------------------------------------------------------------------------------------------
    def _users(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """User index and new-ness per session. A scheduled return is taken by the first returning session at or
        after its due time (in due order), as a queue would: the greedy match is a running minimum."""
        rng, n = self.rng, len(starts)
        new = rng.random(n) < self.behaviour.new_user_share
        back = np.flatnonzero(~new)
        user = np.empty(n, dtype=np.int64)
        ready = np.searchsorted(self._due, starts[back], side="right")  # returns due by each returning session
        j = np.arange(1, len(back) + 1)
        matched = j + np.minimum.accumulate(np.minimum(ready - j, 0)) if len(back) else j
        took = np.diff(np.concatenate(([0], matched))) > 0
        user[back[took]] = self._due_user[matched[took] - 1]
        used = matched[-1] if len(back) else 0
        self._due, self._due_user = self._due[used:], self._due_user[used:]
        user[back[~took]] = rng.integers(0, self._initial_users, int((~took).sum()))
        fresh = np.flatnonzero(new)
        first = len(self.user_id)
        self.user_id = np.concatenate((self.user_id, rng.integers(0, 1 << 48, len(fresh), dtype=np.int64)))
        self.user_device = np.concatenate(
            (self.user_device, _pick(rng, self._device_cum, len(fresh)).astype(np.int8)))
        self.user_location = np.concatenate(
            (self.user_location, _pick(rng, self._location_cum, len(fresh)).astype(np.int32)))
        user[fresh] = first + np.arange(len(fresh))
        return user, new

    def _schedule_returns(self, user: np.ndarray, last_ms: np.ndarray) -> None:
        rng = self.rng
        back = rng.random(len(user)) < self.behaviour.return_rate
        due = last_ms[back] + (rng.exponential(self.behaviour.mean_days_to_return, int(back.sum())) * DAY_MS
                               ).astype(np.int64) + SESSION_TIMEOUT_MS
        due = np.concatenate((self._due, due))
        who = np.concatenate((self._due_user, user[back]))
        order = np.argsort(due, kind="stable")
        self._due, self._due_user = due[order], who[order]

    # -- flows ----------------------------------------------------------------------------------------------------
    def _products(self, n: int) -> np.ndarray:
        return self._product_cum.index(self.rng.random(n)).clip(
            0, len(self._product_cum) - 1).astype(np.int32)

    def _quantity(self, n: int) -> np.ndarray:
        return self.quantities[_pick(self.rng, self._quantity_cum, n)]

    def _flows(self, device: np.ndarray, channel: np.ndarray):
        """Kind, page, product, quantity and order of every event of these sessions, in session order, and events
        per session."""
        rng, b, n = self.rng, self.behaviour, len(device)
        landing_u = rng.random(n)
        land_product = self._lands_on_product[channel] & (landing_u < 0.5)
        land_category = self._lands_on_category[channel] & (landing_u < 0.4)
        land_page = np.where(land_category, self._category0 + rng.integers(0, len(CATEGORIES), n), HOME)
        land_item = self._products(n)
        land_page = np.where(land_product, self._product0 + land_item, land_page)
        bounced = rng.random(n) < self._bounce[channel]
        wants = rng.random(n) < b.product_view_rate
        steps = np.where(bounced, 0, 1 + np.minimum(rng.exponential(3.0, n).astype(np.int64), MAX_BROWSE_STEPS - 1))
        # Browse steps, one row each: a product step is a click then that product's view.
        step_session = np.repeat(np.arange(n), steps)
        step_no = np.arange(len(step_session)) - np.repeat(np.cumsum(steps) - steps, steps)
        m = len(step_session)
        product_step = wants[step_session] & (
            ((step_no == 0) & ~land_product[step_session]) | (rng.random(m) < CLICK_SHARE_AFTER_FIRST))
        step_item = self._products(m)
        other_page = np.where(rng.random(m) < 0.5, self._category0 + rng.integers(0, len(CATEGORIES), m),
                              self._search0 + rng.integers(0, len(self.pools.search_terms), m))
        step_page = np.where(product_step, self._product0 + step_item, other_page)
        # Cart: the last product viewed, sometimes the one before it and the one before that, if the session saw them.
        viewed_rows = np.concatenate((np.flatnonzero(land_product) * 0 - 1, np.flatnonzero(product_step)))
        viewed_session = np.concatenate((np.flatnonzero(land_product), step_session[product_step]))
        viewed_item = np.concatenate((land_item[land_product], step_item[product_step]))
        order = np.lexsort((viewed_rows, viewed_session))
        viewed_session, viewed_item = viewed_session[order], viewed_item[order]
        views = np.bincount(viewed_session, minlength=n)
        last_at = np.cumsum(views) - 1
        has_view = views > 0
        last = np.where(has_view, viewed_item[np.maximum(last_at, 0)], -1) if len(viewed_item) else np.full(n, -1)
        before = np.where(views > 1, viewed_item[np.maximum(last_at - 1, 0)], -1) if len(viewed_item) else last
        earlier = np.where(views > 2, viewed_item[np.maximum(last_at - 2, 0)], -1) if len(viewed_item) else last
        adds = has_view & ~bounced & (rng.random(n) < self._add_rate[device])
        two = adds & (views > 1) & (rng.random(n) < b.second_item_rate)
        checkout = adds & (rng.random(n) < b.checkout_rate)
        buys = checkout & (rng.random(n) < self._buy_rate[device])
        three = two & (views > 2) & (rng.random(n) < b.third_item_rate)
        reorder = buys & (rng.random(n) < b.reorder_rate)
        lines = ((adds, last, self._quantity(n)), (two, before, self._quantity(n)), (three, earlier, self._quantity(n)))
        orders = rng.integers(0, 1 << 48, (n, 2), dtype=np.int64)
        n_cart = adds.astype(np.int64) + two + three
        per_step = np.where(product_step, 2, 1)
        step_events = np.bincount(step_session, weights=per_step, minlength=n).astype(np.int64)
        per_session = 1 + step_events + n_cart + 2 * checkout + n_cart * buys + 3 * reorder
        total = int(per_session.sum())
        # Lay the events out: each session's block is landing, steps, adds, cart + checkout, purchases.
        base = np.cumsum(per_session) - per_session
        kind = np.zeros(total, dtype=np.int8)
        page = np.empty(total, dtype=np.int32)
        product = np.full(total, -1, dtype=np.int32)
        quantity = np.zeros(total, dtype=np.int16)
        order = np.full(total, -1, dtype=np.int64)
        page[base] = land_page
        product[base[land_product]] = land_item[land_product]
        step_base = base[step_session] + 1 + (np.cumsum(per_step) - per_step) - np.repeat(
            (np.cumsum(step_events) - step_events), steps)
        prev_page = np.where(step_no == 0, land_page[step_session], np.roll(step_page, 1))
        click = step_base[product_step]
        kind[click] = CLICK
        page[click] = prev_page[product_step]
        product[click] = step_item[product_step]
        view_at = step_base + product_step
        page[view_at] = step_page
        product[view_at[product_step]] = step_item[product_step]
        after = base + 1 + step_events
        for k, (mask, item, count) in enumerate(lines):
            at = after[mask] + k
            kind[at], product[at], quantity[at] = ADD, item[mask], count[mask]
            page[at] = self._product0 + item[mask]
        after = after + n_cart
        page[after[checkout]] = CART
        page[after[checkout] + 1] = CHECKOUT
        after = after + 2 * checkout
        for k, (mask, item, count) in enumerate(lines):
            mask = mask & buys
            at = after[mask] + k
            kind[at], product[at], page[at] = PURCHASE, item[mask], CONFIRMATION
            quantity[at], order[at] = count[mask], orders[mask, 0]
        # Buying again: the last product's page, into the cart, and straight to a second order.
        at = (after + n_cart * buys)[reorder]
        again, count = last[reorder], self._quantity(n)[reorder]
        page[at], product[at] = self._product0 + again, again
        kind[at + 1], product[at + 1], page[at + 1], quantity[at + 1] = ADD, again, self._product0 + again, count
        kind[at + 2], product[at + 2], page[at + 2] = PURCHASE, again, CONFIRMATION
        quantity[at + 2], order[at + 2] = count, orders[reorder, 1]
        return kind, page, product, quantity, order, per_session

    # -- a batch --------------------------------------------------------------------------------------------------
    def batch(self, starts: np.ndarray, limit: int, begin_ms: int | None = None,
              end_ms: int | None = None) -> tuple[Sessions, Events]:
        """Sessions starting at ``starts`` (sorted) and their events, at most ``limit`` events in session order;
        events before ``begin_ms`` or from ``end_ms`` on are not made (a live slice's edges)."""
        rng, n = self.rng, len(starts)
        user, new = self._users(starts)
        device = np.where(rng.random(n) < self.behaviour.same_device_rate, self.user_device[user],
                          _pick(rng, self._device_cum, n)).astype(np.int8)
        browser = np.empty(n, dtype=np.int16)
        for d, (names, cum) in enumerate(self._browser_of):
            at = np.flatnonzero(device == d)
            browser[at] = names[_pick(rng, cum, len(at))]
        channel = _pick(rng, self._channel_cum, n).astype(np.int8)
        kind, page, product, quantity, order, per_session = self._flows(device, channel)
        session = np.repeat(np.arange(n, dtype=np.int32), per_session)
        first = np.cumsum(per_session) - per_session
        gaps = GAPS[rng.integers(0, len(GAPS), len(kind))]
        gaps[first] = 0
        # An order's lines are sent together, as trackers send a purchase's items: one timestamp.
        gaps[1:][(order[1:] >= 0) & (order[1:] == order[:-1])] = 0
        offset = np.cumsum(gaps)
        ts = starts[session] + offset - np.repeat(offset[first], per_session)
        keep = ts - starts[session] <= MAX_SESSION_MS
        if begin_ms is not None:
            keep &= ts >= begin_ms
        if end_ms is not None:
            keep &= ts < end_ms
        keep &= np.cumsum(keep) <= limit
        bits = rng.integers(0, np.iinfo(np.uint64).max, (len(kind), 2), dtype=np.uint64, endpoint=True)
        events = Events(ts, kind, page, product, session, bits[:, 0], bits[:, 1], quantity, order)
        if not keep.all():  # usually every event is kept: no copy then
            events = events.take(np.flatnonzero(keep))
        made = np.bincount(events.session, minlength=n) > 0
        sbits = rng.integers(0, np.iinfo(np.uint64).max, (n, 2), dtype=np.uint64, endpoint=True)
        sessions = Sessions(
            start=starts, user_id=self.user_id[user], new=new, device=device, browser=browser,
            location=self.user_location[user], channel=channel,
            term=rng.integers(0, len(self.pools.search_terms), n).astype(np.int32),
            site=rng.integers(0, 1 << 30, n), tag=rng.integers(0, 1 << 40, n), id_hi=sbits[:, 0],
            id_lo=sbits[:, 1], delay=200 + rng.integers(0, 2800, n))
        last = np.full(n, -1, dtype=np.int64)
        np.maximum.at(last, events.session, events.ts)
        self._schedule_returns(user[made], last[made])
        self.sessions += int(made.sum())
        return sessions, events

