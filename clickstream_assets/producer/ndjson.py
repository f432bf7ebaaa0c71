"""Columns to NDJSON without a Python object per event: fixed-width values (ids, timestamps) are written into byte
matrices with numpy (:mod:`fixed`), the rest are looked up in small tables of pre-encoded JSON, and pyarrow joins
the pieces.

Each line is built field by field in the contract's order (:data:`clickstream_assets.contract.FIELDS`): a field is
a function of the batch giving a :class:`Fixed` value, a :class:`Lookup` or a binary array of encoded values. Adding a field to the
contract means adding one entry to ``event_fields`` or ``session_fields``; the assertion below says so.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clickstream_assets.contract import COMMERCE_FIELDS, FIELDS, SCHEMA_VERSION
from clickstream_assets.producer.columnar import ADD, PURCHASE, ColumnarSimulator, Events, Sessions
from clickstream_assets.producer.fixed import Fixed, hex_digits, timestamps, user_ids, uuid4
from clickstream_assets.producer.pools import SEARCH_ENGINES, SOCIAL_SITES

EVENT_TYPES = ("view", "click", "add_to_cart", "purchase")  # indexed by columnar.VIEW … PURCHASE
EMAIL_LINK = "https://mail.shop-news.example/c/"
_EMAIL_QUERY = (b"", b"?utm_medium=email&utm_campaign=")
_REFERRER_ENDS = (b'"', b"&gclid=", b'-review"')
_NOTHING = (b"",)
LINES_PER_ARRAY = 16_384  # ~6.5 MB of lines: a batch's output in pieces, each freed once the sink has written it


@dataclass
class Lookup:
    """Per row, one entry of a small table of encoded values."""

    table: tuple[bytes, ...] | list[bytes] | pa.Array
    index: np.ndarray


@dataclass
class Run:
    """Adjacent fixed-width pieces: one template row and the writers that fill in the rest."""

    template: bytes
    writers: list[tuple[int, Callable[[np.ndarray, int], None]]]


Part = Run | Lookup | pa.Array  # a binary array: one encoded value per row


def encode(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=64)
def _encoded(values: tuple) -> tuple[bytes, ...]:
    return tuple(encode(v) for v in values)


def lookup(values: tuple, index: np.ndarray) -> Lookup:
    """The JSON encoding of ``values[index]`` per row: one encode per distinct value, once per run."""
    return Lookup(_encoded(values), index)


def binary(matrix: np.ndarray) -> pa.Array:
    n, width = matrix.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets),
                                                       pa.py_buffer(np.ascontiguousarray(matrix))])


class Scratch:
    """The fixed-width matrices a renderer fills batch after batch, one per template, and the key-joined lookup
    tables it converts once: a new matrix per batch costs a fresh page per 4 KB on first touch."""

    def __init__(self):
        self.rows: dict[bytes, np.ndarray] = {}
        self.tables: dict[tuple, tuple[object, pa.Array]] = {}

    def fill(self, run: Run, n: int) -> np.ndarray:
        rows = self.rows.get(run.template)
        if rows is None or len(rows) < n:
            rows = np.empty((max(n, 0 if rows is None else len(rows) * 5 // 4), len(run.template)), np.uint8)
            rows[:] = np.frombuffer(run.template, np.uint8)
            self.rows[run.template] = rows
        rows = rows[:n]
        for at, write in run.writers:
            write(rows, at)
        return rows

    def table(self, table: tuple[bytes, ...] | list[bytes] | _Joined | pa.Array) -> pa.Array:
        """A lookup table as a binary array: a per-batch array as it is, a run-long one (keys joined on) converted
        once."""
        if isinstance(table, pa.Array):
            return table
        prefix = suffix = b""
        while isinstance(table, _Joined):
            prefix, suffix, table = table.prefix + prefix, suffix + table.suffix, table.values
        key = (id(table), prefix, suffix)
        held = self.tables.get(key)
        if held is None or held[0] is not table:  # held[0] keeps the table alive, so its id stays its own
            held = self.tables[key] = (table, pa.array([prefix + v + suffix for v in table], pa.large_binary()))
        return held[1]


def concat_rows(parts: list[Part], n: int, scratch: Scratch | None = None) -> pa.Array:
    """Row i is the concatenation of every part's row i (see :func:`gather_rows`), as one array."""
    if len(parts) == 1 and not isinstance(parts[0], (Lookup, Run)):
        return parts[0]
    return gather_rows(parts, n, scratch, n)[0]


def gather_rows(parts: list[Part], n: int, scratch: Scratch | None, rows_per_array: int) -> list[pa.Array]:
    """Row i is the concatenation of every part's row i. One gather does it: the parts' values go in one array,
    and taking them in row-major order lays each row's pieces end to end (join kernels are ~10x slower here).
    The rows come back in arrays of ``rows_per_array``: a smaller array is freed sooner once sent, and a batch
    never needs its whole output and its gather at once."""
    scratch = scratch or Scratch()
    k = len(parts)
    arrays, index, size = [], np.empty((n, k), dtype=np.int64), 0
    for j, part in enumerate(parts):
        if isinstance(part, Lookup):
            array = scratch.table(part.table)
            np.add(part.index, np.int64(size), out=index[:, j])
        else:
            array = binary(scratch.fill(part, n)) if isinstance(part, Run) else part
            index[:, j] = np.arange(size, size + n)
        arrays.append(array)
        size += len(array)
    if not n:
        return [pa.array([], pa.large_binary())]
    values, flat, out = pa.concat_arrays(arrays), index.ravel(), []
    for at in range(0, n, rows_per_array):
        rows = min(rows_per_array, n - at)
        gathered = values.take(pa.array(flat[at * k : (at + rows) * k]))
        offsets = np.frombuffer(gathered.buffers()[1], dtype=np.int64, count=len(gathered) + 1,
                                offset=gathered.offset * 8)
        out.append(pa.Array.from_buffers(pa.large_binary(), rows, [None, pa.py_buffer(offsets[::k].copy()),
                                                                   gathered.buffers()[2]]))
    return out


def layout(fields: list[tuple[str, Part | Fixed]], opening: bool, closing: bool) -> list[Part]:
    """``{"name":value,…}\n`` per row (or the middle of it). Keys go into the neighbouring piece: adjacent
    fixed-width pieces become one run, and constant bytes next to a looked-up value go into its table."""
    parts: list[Part] = []
    run: list[Fixed] = []

    def flush() -> None:
        if not run:
            return
        template = b"".join(f.template for f in run)
        if all(f.write is None for f in run) and parts and isinstance(parts[-1], Lookup):
            last = parts[-1]  # constant bytes only, after a looked-up value: into its table
            parts[-1] = Lookup(_Joined(last.table, suffix=template), last.index)
        else:
            writers, at = [], 0
            for f in run:
                if f.write is not None:
                    writers.append((at, f.write))
                at += len(f.template)
            parts.append(Run(template, writers))
        run.clear()

    for i, (name, part) in enumerate(fields):
        run.append(Fixed((b"{" if opening and i == 0 else b",") + encode(name) + b":"))
        if isinstance(part, Fixed):
            run.append(part)
        elif isinstance(part, Lookup) and all(f.write is None for f in run):
            prefix = b"".join(f.template for f in run)  # keys before a looked-up value: into its table
            run.clear()
            parts.append(Lookup(_Joined(part.table, prefix=prefix), part.index))
        else:
            flush()
            parts.append(part)
    if closing:
        run.append(Fixed(b"}\n"))
    flush()
    return parts


@dataclass(frozen=True)
class _Joined:
    """A run-long table with constant bytes before and after each value (see :meth:`Scratch.table`)."""

    values: tuple[bytes, ...] | list[bytes] | _Joined
    prefix: bytes = b""
    suffix: bytes = b""


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
            "schema_version": lambda e: Fixed(encode(SCHEMA_VERSION)),
            "timestamp": lambda e: timestamps(e.ts),
            "event_type": lambda e: Lookup(self._kind_page, e.kind.astype(np.int64) * len(pages) + e.page),
            "product_id": lambda e: Lookup(self._products, e.product + 1),
        }
        self.session_fields: dict[str, Callable[[Sessions], Part]] = {
            "user_id": lambda s: user_ids(s.user_id),
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
        # Referrers: a head per site by channel (each channel's options in a row), then the search term and tags.
        sites = {"organic_search": [f"{e}search?q=" for e in SEARCH_ENGINES],
                 "paid_search": [f"{e}aclk?q=" for e in SEARCH_ENGINES], "social": list(SOCIAL_SITES),
                 "email": [EMAIL_LINK], "referral": list(p.referral_sites)}
        # Channels by code (comparing codes, not names: string arrays compare ~10x slower); -1 for one not drawn.
        self._channel_code = {name: -1 for name in ("direct", *sites)} | {c: i for i, c in enumerate(sim.channels)}
        self._referrer_heads, self._heads = {}, []
        for name, options in sites.items():
            self._referrer_heads[name] = (len(self._heads), len(options))
            self._heads.extend(b'"' + h.encode() for h in options)
        self._terms = [t.encode() for t in p.search_terms]
        self._scratch = Scratch()

    def _referrers(self, s: Sessions) -> pa.Array:
        """By channel: none, a search engine's results or ad click, a social site, a mail link, another site."""
        n = len(s.channel)
        channel, code = s.channel, self._channel_code
        head = np.zeros(n, dtype=np.int64)
        for name, (first, count) in self._referrer_heads.items():
            at = channel == code[name]
            head[at] = first + s.site[at] % count
        empty = pa.scalar(b"", pa.large_binary())
        email, paid, direct = channel == code["email"], channel == code["paid_search"], channel == code["direct"]
        text = concat_rows([
            Lookup(self._heads, head),
            pc.if_else(pa.array(email), binary(hex_digits(s.tag, 8)), empty),
            Lookup(_EMAIL_QUERY, email.astype(np.int8)),
            Lookup(self._terms, s.term),
            Lookup(_REFERRER_ENDS, np.select([paid, channel == code["referral"]], [1, 2], 0)),
            pc.if_else(pa.array(paid), binary(np.hstack((hex_digits(s.tag, 10), np.full((n, 1), ord('"'), np.uint8)))),
                       empty),
        ], n, self._scratch)
        return pc.if_else(pa.array(direct), pa.scalar(b"null", pa.large_binary()), text)

    def _commerce(self, e: Events) -> Lookup:
        """``,"order_id":…,"price":…,"quantity":…,"currency":…`` on cart and purchase lines, nothing elsewhere:
        built for those lines only (a few in a hundred), then looked up by every line."""
        rows = np.flatnonzero(e.kind >= ADD)
        m = len(rows)
        index = np.zeros(len(e), dtype=np.int64)
        index[rows] = np.arange(1, m + 1)
        if not m:
            return Lookup(_NOTHING, index)
        order = np.empty((m, 27), dtype=np.uint8)
        order[:, :14] = np.frombuffer(b',"order_id":"o', np.uint8)
        order[:, 14:26] = hex_digits(e.order[rows], 12)
        order[:, 26] = ord('"')
        purchase = e.kind[rows] == PURCHASE
        text = concat_rows([
            pc.if_else(pa.array(purchase), binary(order), pa.scalar(b"", pa.large_binary())),
            Lookup(self._prices, e.product[rows]),
            Lookup(self._quantities, e.quantity[rows]),
        ], m, self._scratch)
        return Lookup(pa.concat_arrays([pa.array([b""], pa.large_binary()), text]), index)

    def session_tails(self, s: Sessions) -> pa.Array:
        """``,"user_id":…,"user_type":…}\\n``: the part of a line every event of the session shares."""
        fields = [(name, make(s)) for name, make in self.session_fields.items()]
        return concat_rows(layout(fields, False, True), len(s.start), self._scratch)

    def lines(self, e: Events, tails: pa.Array) -> list[pa.Array]:
        """One NDJSON line per event, newline included, in arrays of at most :data:`LINES_PER_ARRAY`; ``tails`` are
        the batch's :meth:`session_tails`."""
        # event_type's piece carries ',"page":…' too, so no key is written for page.
        fields = [(name, make(e)) for name, make in self.event_fields.items()]
        return gather_rows([*layout(fields, True, False), self._commerce(e), Lookup(tails, e.session)], len(e),
                           self._scratch, LINES_PER_ARRAY)
