"""Columns to NDJSON without a Python object per event: fixed-width values (ids, timestamps) are written as byte
matrices with numpy, the rest are looked up in small tables of pre-encoded JSON, and pyarrow joins the pieces.

Each line is built field by field in the contract's order (:data:`clickstream_assets.contract.FIELDS`): a field is
a function of the batch giving a :class:`Fixed` matrix or a binary array of encoded values. Adding a field to the
contract means adding one entry to ``event_fields`` or ``session_fields``; the assertion below says so.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clickstream_assets.contract import COMMERCE_FIELDS, FIELDS, SCHEMA_VERSION
from clickstream_assets.producer.columnar import ADD, PURCHASE, ColumnarSimulator, Events, Sessions
from clickstream_assets.producer.pools import SEARCH_ENGINES, SOCIAL_SITES

_HEX_PAIRS = np.frombuffer(b"".join(f"{b:02x}".encode() for b in range(256)), dtype=np.uint16)
EVENT_TYPES = ("view", "click", "add_to_cart", "purchase")  # indexed by columnar.VIEW … PURCHASE
EMAIL_LINK = "https://mail.shop-news.example/c/"


def _digit_columns(pieces: list[np.ndarray | bytes]) -> np.ndarray:
    """A byte matrix from columns: a number array gives its zero-padded digits, bytes give constant columns."""
    count = next(len(p[0]) for p in pieces if not isinstance(p, bytes))
    columns = []
    for piece in pieces:
        if isinstance(piece, bytes):
            columns.extend(np.full(count, c, dtype=np.uint8) for c in piece)
        else:
            value, width = piece
            columns.extend(48 + value // 10**p % 10 for p in range(width - 1, -1, -1))
    return np.stack(columns, axis=1).astype(np.uint8)


_SECONDS = np.arange(86_400)
# "HH:MM:SS" for every second of a day and ".mmm" for every millisecond: rows to gather, not digits to compute.
_CLOCK = _digit_columns([(_SECONDS // 3600, 2), b":", (_SECONDS // 60 % 60, 2), b":", (_SECONDS % 60, 2)])
_MILLIS = _digit_columns([b".", (np.arange(1000), 3)])


@dataclass
class Fixed:
    """A value of the same width on every row (already JSON-encoded), as an (n, width) byte matrix."""

    matrix: np.ndarray


@dataclass
class Lookup:
    """Per row, one entry of a small table of encoded values."""

    table: list[bytes] | pa.Array
    index: np.ndarray


Part = Fixed | Lookup | pa.Array  # a binary array: one encoded value per row


def encode(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=64)
def _encoded(values: tuple) -> tuple[bytes, ...]:
    return tuple(encode(v) for v in values)


def lookup(values: tuple, index: np.ndarray) -> Lookup:
    """The JSON encoding of ``values[index]`` per row: one encode per distinct value, once per run."""
    return Lookup(list(_encoded(values)), index)


def binary(matrix: np.ndarray) -> pa.Array:
    n, width = matrix.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(matrix))])


def hex_digits(values: np.ndarray, digits: int) -> np.ndarray:
    """(n, digits) lowercase hex of the low ``digits`` nibbles (an even number) of unsigned ints."""
    octets = values.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - digits // 2:]
    return _HEX_PAIRS[octets].view(np.uint8).reshape(len(values), digits)


def _record(width: int, fields: dict[str, tuple[str, int]]) -> np.dtype:
    """A packed row of ``width`` bytes with typed fields at byte offsets: a value written through a field is one
    wide store per row, where a slice of a byte matrix is a loop over its bytes (2-3x slower here)."""
    return np.dtype({"names": list(fields), "formats": [f for f, _ in fields.values()],
                     "offsets": [o for _, o in fields.values()], "itemsize": width})


# Four hex digits for every 16-bit value, as one uint32: a 64-bit id is four lookups.
_HEX4 = np.ascontiguousarray(np.frombuffer(b"0123456789abcdef", np.uint8)[
    (np.arange(65536)[:, None] >> np.array([12, 8, 4, 0])) & 15]).view(np.uint32).ravel()
_UUID = _record(38, {"q0": ("u1", 0), "a": ("u4", 1), "b": ("u4", 5), "d1": ("u1", 9), "c": ("u4", 10),
                     "d2": ("u1", 14), "e": ("u4", 15), "d3": ("u1", 19), "f": ("u4", 20), "d4": ("u1", 24),
                     "g": ("u4", 25), "h": ("u4", 29), "i": ("u4", 33), "q1": ("u1", 37)})
_TIMESTAMP = _record(26, {"date": ("u8", 0), "day": ("u4", 8), "clock": ("u8", 12), "millis": ("u4", 20),
                          "end": ("u2", 24)})
_CLOCK8 = _CLOCK.view(np.uint64).ravel()
_MILLIS4 = _MILLIS.view(np.uint32).ravel()


def _quarters(values: np.ndarray) -> np.ndarray:
    """(n, 4) 16-bit pieces of uint64s, most significant first."""
    return values.astype("<u8", copy=False).view(np.uint16).reshape(-1, 4)[:, ::-1]


def uuid4(hi: np.ndarray, lo: np.ndarray) -> Fixed:
    """Quoted version-4 UUIDs from 128 random bits per row."""
    hi = (hi & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)
    lo = (lo & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000)
    h, low = _quarters(hi), _quarters(lo)
    out = np.empty(len(hi), _UUID)
    out["q0"] = out["q1"] = ord('"')
    out["d1"] = out["d2"] = out["d3"] = out["d4"] = ord("-")
    out["a"], out["b"], out["c"], out["e"] = (_HEX4[h[:, k]] for k in range(4))
    out["f"], out["g"], out["h"], out["i"] = (_HEX4[low[:, k]] for k in range(4))
    return Fixed(out.view(np.uint8).reshape(len(hi), 38))


def timestamps(ms: np.ndarray) -> Fixed:
    """Quoted ``"YYYY-MM-DDTHH:MM:SS.mmmZ"`` in UTC."""
    day = ms // 86_400_000
    first = int(day.min()) if len(ms) else 0
    dates = np.frombuffer(b"".join(
        datetime.fromtimestamp(d * 86_400, tz=timezone.utc).strftime('"%Y-%m-%dT').encode()
        for d in range(first, int(day.max(initial=first)) + 1)), dtype=np.uint8).reshape(-1, 12)
    in_day = ms - day * 86_400_000
    seconds = in_day // 1000
    out = np.empty(len(ms), _TIMESTAMP)
    out["date"] = np.ascontiguousarray(dates[:, :8]).view(np.uint64).ravel()[day - first]
    out["day"] = np.ascontiguousarray(dates[:, 8:]).view(np.uint32).ravel()[day - first]
    out["clock"] = _CLOCK8[seconds]
    out["millis"] = _MILLIS4[in_day - seconds * 1000]
    out["end"] = np.frombuffer(b'Z"', np.uint16)[0]
    return Fixed(out.view(np.uint8).reshape(len(ms), 26))


def concat_rows(parts: list[Part], n: int) -> pa.Array:
    """Row i is the concatenation of every part's row i. One gather does it: the parts' values go in one array,
    and taking them in row-major order lays each row's pieces end to end (join kernels are ~10x slower here)."""
    arrays, columns, size = [], [], 0
    for part in parts:
        if isinstance(part, Fixed):
            array, index = binary(part.matrix), np.arange(n)
        elif isinstance(part, Lookup):
            array = part.table if isinstance(part.table, pa.Array) else pa.array(part.table, pa.large_binary())
            index = part.index
        else:
            array, index = part, np.arange(n)
        arrays.append(array)
        columns.append(np.asarray(index, dtype=np.int64) + size)
        size += len(array)
    if len(parts) == 1 and not isinstance(parts[0], Lookup):
        return arrays[0]
    gathered = pa.concat_arrays(arrays).take(pa.array(np.stack(columns, axis=1).ravel()))
    offsets = np.frombuffer(gathered.buffers()[1], dtype=np.int64, count=len(gathered) + 1, offset=gathered.offset * 8)
    return pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(np.ascontiguousarray(offsets[::len(parts)])),
                                                  gathered.buffers()[2]])


def layout(fields: list[tuple[str, Part]], n: int, opening: bool, closing: bool) -> list[Part]:
    """``{"name":value,…}\n`` per row (or the middle of it). Keys go into the neighbouring piece: adjacent
    fixed-width pieces become one matrix, and a key before a looked-up value goes into its table."""
    parts: list[Part] = []
    run: list[np.ndarray] = []

    def flush() -> None:
        if run:
            parts.append(Fixed(np.hstack(run)))
            run.clear()

    def constant(text: bytes) -> np.ndarray:
        return np.broadcast_to(np.frombuffer(text, dtype=np.uint8), (n, len(text)))

    for i, (name, part) in enumerate(fields):
        key = (b"{" if opening and i == 0 else b",") + encode(name) + b":"
        if isinstance(part, Lookup) and not run:
            parts.append(Lookup([key + v for v in part.table], part.index))
            continue
        run.append(constant(key))
        if isinstance(part, Fixed):
            run.append(part.matrix)
        else:
            flush()
            parts.append(part)
    if closing:
        if run or not parts or not isinstance(parts[-1], Lookup):
            run.append(constant(b"}\n"))
        else:
            parts[-1] = Lookup([v + b"}\n" for v in parts[-1].table], parts[-1].index)
    flush()
    return parts


class Renderer:
    """Encodes a :class:`ColumnarSimulator`'s batches as NDJSON lines (a binary array, newline included)."""

    def __init__(self, sim: ColumnarSimulator):
        p = sim.pools
        self.sim = sim
        pages = [encode(page) for page in sim.pages]
        # event_type and page as one looked-up piece: the pair is a small table.
        self._kind_page = [encode(k) + b',"page":' + page for k in EVENT_TYPES for page in pages]
        self._products = [b"null"] + [encode(pid) for pid in p.product_ids]
        for text in (*p.search_terms, *p.referral_sites, *p.locations, *SEARCH_ENGINES, *SOCIAL_SITES):
            assert encode(text)[1:-1].decode() == text, f"{text!r} needs JSON escaping; encode it per value"
        self.event_fields: dict[str, Callable[[Events], Part]] = {
            "event_id": lambda e: uuid4(e.id_hi, e.id_lo),
            "schema_version": lambda e: Fixed(np.broadcast_to(np.frombuffer(encode(SCHEMA_VERSION), np.uint8),
                                                              (len(e), len(encode(SCHEMA_VERSION))))),
            "timestamp": lambda e: timestamps(e.ts),
            "event_type": lambda e: Lookup(self._kind_page, e.kind.astype(np.int64) * len(pages) + e.page),
            "product_id": lambda e: Lookup(self._products, e.product + 1),
        }
        self.session_fields: dict[str, Callable[[Sessions], Part]] = {
            "user_id": self._user_ids,
            "session_id": lambda s: uuid4(s.id_hi, s.id_lo),
            "device_type": lambda s: lookup(sim.devices, s.device),
            "browser": lambda s: lookup(sim.browsers, s.browser),
            "location": lambda s: lookup(p.locations, s.location),
            "referrer_url": self._referrers,
            "user_type": lambda s: lookup(("returning", "new"), s.new.astype(np.int8)),
        }
        # "page" rides with "event_type" (one lookup); every other contract field has its encoder.
        covered = [*self.event_fields, "page", *self.session_fields]
        assert sorted(covered) == sorted(FIELDS), f"contract fields without an encoder: {set(FIELDS) ^ set(covered)}"
        # Version 2's commerce fields follow product_id on cart and purchase lines: price per product, quantity
        # and the shop's currency from small tables, the order id per line (see _commerce).
        currency = encode(sim.behaviour.currency)
        self._prices = [b',"price":' + f"{c // 100}.{c % 100:02d}".encode() for c in sim.price_cents.tolist()]
        self._quantities = [b',"quantity":' + str(q).encode() + b',"currency":' + currency
                            for q in range(int(sim.quantities.max()) + 1)]
        assert COMMERCE_FIELDS == ("order_id", "price", "quantity", "currency"), "render the new commerce field"

    def _user_ids(self, s: Sessions) -> Fixed:
        out = np.empty((len(s.user_id), 16), dtype=np.uint8)
        out[:, 0] = out[:, 15] = ord('"')
        out[:, 1], out[:, 2] = ord("u"), ord("_")
        q = _quarters(s.user_id)
        out[:, 3:15] = np.stack([_HEX4[q[:, k]] for k in (1, 2, 3)], axis=1).view(np.uint8)
        return Fixed(out)

    def _referrers(self, s: Sessions) -> pa.Array:
        """By channel: none, a search engine's results or ad click, a social site, a mail link, another site."""
        sim, p, n = self.sim, self.sim.pools, len(s.channel)
        channel = np.array(sim.channels)[s.channel]
        sites = {"organic_search": [f"{e}search?q=" for e in SEARCH_ENGINES],
                 "paid_search": [f"{e}aclk?q=" for e in SEARCH_ENGINES], "social": list(SOCIAL_SITES),
                 "email": [EMAIL_LINK], "referral": list(p.referral_sites)}
        heads, head = [], np.zeros(n, dtype=np.int64)
        for name, options in sites.items():
            at = channel == name
            head[at] = len(heads) + s.site[at] % len(options)
            heads.extend(options)
        empty = pa.scalar(b"", pa.large_binary())
        email, paid, direct = channel == "email", channel == "paid_search", channel == "direct"
        text = concat_rows([
            Lookup([b'"' + h.encode() for h in heads], head),
            pc.if_else(pa.array(email), binary(hex_digits(s.tag, 8)), empty),
            Lookup([b"", b"?utm_medium=email&utm_campaign="], email.astype(np.int8)),
            Lookup([t.encode() for t in p.search_terms], s.term),
            Lookup([b'"', b'&gclid=', b'-review"'], np.select([paid, channel == "referral"], [1, 2], 0)),
            pc.if_else(pa.array(paid), binary(np.hstack((hex_digits(s.tag, 10), np.full((n, 1), ord('"'), np.uint8)))),
                       empty),
        ], n)
        return pc.if_else(pa.array(direct), pa.scalar(b"null", pa.large_binary()), text)

    def _commerce(self, e: Events) -> Lookup:
        """``,"order_id":…,"price":…,"quantity":…,"currency":…`` on cart and purchase lines, nothing elsewhere:
        built for those lines only (a few in a hundred), then looked up by every line."""
        rows = np.flatnonzero(e.kind >= ADD)
        m = len(rows)
        index = np.zeros(len(e), dtype=np.int64)
        index[rows] = np.arange(1, m + 1)
        if not m:
            return Lookup([b""], index)
        order = np.empty((m, 27), dtype=np.uint8)
        order[:, :14] = np.frombuffer(b',"order_id":"o', np.uint8)
        order[:, 14:26] = hex_digits(e.order[rows], 12)
        order[:, 26] = ord('"')
        purchase = e.kind[rows] == PURCHASE
        text = concat_rows([
            pc.if_else(pa.array(purchase), binary(order), pa.scalar(b"", pa.large_binary())),
            Lookup(self._prices, e.product[rows]),
            Lookup(self._quantities, e.quantity[rows]),
        ], m)
        return Lookup(pa.concat_arrays([pa.array([b""], pa.large_binary()), text]), index)

    def session_tails(self, s: Sessions) -> pa.Array:
        """``,"user_id":…,"user_type":…}\\n``: the part of a line every event of the session shares."""
        fields = [(name, make(s)) for name, make in self.session_fields.items()]
        return concat_rows(layout(fields, len(s.start), False, True), len(s.start))

    def lines(self, e: Events, tails: pa.Array) -> pa.Array:
        """One NDJSON line per event, newline included; ``tails`` are the batch's :meth:`session_tails`."""
        # event_type's piece carries ',"page":…' too, so no key is written for page.
        fields = [(name, make(e)) for name, make in self.event_fields.items()]
        return concat_rows([*layout(fields, len(e), True, False), self._commerce(e), Lookup(tails, e.session)],
                           len(e))
