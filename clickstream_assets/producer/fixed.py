"""Fixed-width JSON values (ids, timestamps) written in place: straight into the byte matrix that holds a line's
whole fixed-width stretch, a few wide stores per row through typed record views, from lookup tables of digits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

_HEX_PAIRS = np.frombuffer(b"".join(f"{b:02x}".encode() for b in range(256)), dtype=np.uint16)


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
    """A value of the same width on every row, already JSON-encoded. ``template`` holds its bytes where they are the
    same on every row (anything where ``write`` fills in); ``write(rows, at)`` stores the rest at column ``at`` of
    ``rows``, the (n, width) byte matrix of the whole fixed-width stretch the value sits in. Neighbouring keys and
    values so share one matrix, kept from batch to batch with its constant bytes in place: no join, no copy."""

    template: bytes
    write: Callable[[np.ndarray, int], None] | None = None


def hex_digits(values: np.ndarray, digits: int) -> np.ndarray:
    """(n, digits) lowercase hex of the low ``digits`` nibbles (an even number) of unsigned ints."""
    octets = values.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - digits // 2:]
    return _HEX_PAIRS[octets].view(np.uint8).reshape(len(values), digits)


@functools.lru_cache(maxsize=256)
def _record(width: int, at: int, fields: tuple[tuple[str, str | tuple, int], ...]) -> np.dtype:
    return np.dtype({"names": [n for n, _, _ in fields], "formats": [f for _, f, _ in fields],
                     "offsets": [at + o for _, _, o in fields], "itemsize": width})


def records(rows: np.ndarray, at: int, fields: tuple[tuple[str, str | tuple, int], ...]) -> np.ndarray:
    """A C-contiguous (n, width) byte matrix seen as n records with typed ``fields`` (name, format, byte offset
    from column ``at``): a value written through a field is one wide store per row, where a slice of a byte matrix
    is a loop over its bytes (2-3x slower here)."""
    return rows.view(_record(rows.shape[1], at, fields))[:, 0]


# Four hex digits for every 16-bit value, as one uint32: a 64-bit id is four lookups.
_HEX4 = np.ascontiguousarray(np.frombuffer(b"0123456789abcdef", np.uint8)[
    (np.arange(65536)[:, None] >> np.array([12, 8, 4, 0])) & 15]).view(np.uint32).ravel()
_UUID_TEMPLATE = b'"________-____-____-____-____________"'
# The hex groups as runs of 4-digit pieces: 8 digits, -, 4, -, 4, -, 4, -, 12.
_UUID = (("ab", ("u4", 2), 1), ("c", "u4", 10), ("e", "u4", 15), ("f", "u4", 20), ("ghi", ("u4", 3), 25))
_USER_ID = (("a", "u4", 3), ("b", "u4", 7), ("c", "u4", 11))
_TIMESTAMP = (("date", "u8", 0), ("day", "u4", 8), ("clock", "u8", 12), ("millis", "u4", 20))
_CLOCK8 = _CLOCK.view(np.uint64).ravel()
_MILLIS4 = _MILLIS.view(np.uint32).ravel()


def _quarters(values: np.ndarray) -> np.ndarray:
    """(n, 4) 16-bit pieces of uint64s, most significant first."""
    return values.astype("<u8", copy=False).view(np.uint16).reshape(-1, 4)[:, ::-1]


def uuid4(hi: np.ndarray, lo: np.ndarray) -> Fixed:
    """Quoted version-4 UUIDs from 128 random bits per row."""

    def write(rows: np.ndarray, at: int) -> None:
        h = _quarters((hi & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000))
        low = _quarters((lo & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(0x8000000000000000))
        out, high, low = records(rows, at, _UUID), _HEX4[h], _HEX4[low]
        out["ab"], out["c"], out["e"] = high[:, :2], high[:, 2], high[:, 3]
        out["f"], out["ghi"] = low[:, 0], low[:, 1:]

    return Fixed(_UUID_TEMPLATE, write)


def timestamps(ms: np.ndarray) -> Fixed:
    """Quoted ``"YYYY-MM-DDTHH:MM:SS.mmmZ"`` in UTC."""

    def write(rows: np.ndarray, at: int) -> None:
        day = ms // 86_400_000
        first = int(day.min()) if len(ms) else 0
        dates = np.frombuffer(b"".join(
            datetime.fromtimestamp(d * 86_400, tz=timezone.utc).strftime('"%Y-%m-%dT').encode()
            for d in range(first, int(day.max(initial=first)) + 1)), dtype=np.uint8).reshape(-1, 12)
        in_day = ms - day * 86_400_000
        seconds = in_day // 1000
        day -= first
        out = records(rows, at, _TIMESTAMP)
        out["date"] = np.ascontiguousarray(dates[:, :8]).view(np.uint64).ravel()[day]
        out["day"] = np.ascontiguousarray(dates[:, 8:]).view(np.uint32).ravel()[day]
        out["clock"] = _CLOCK8[seconds]
        out["millis"] = _MILLIS4[in_day - seconds * 1000]

    return Fixed(b"_" * 24 + b'Z"', write)


def user_ids(values: np.ndarray) -> Fixed:
    """Quoted ``"u_"`` and 12 hex digits: the low 48 bits of each value."""

    def write(rows: np.ndarray, at: int) -> None:
        q = _quarters(values)
        out = records(rows, at, _USER_ID)
        for k, name in enumerate("abc", start=1):
            out[name] = _HEX4[q[:, k]]

    return Fixed(b'"u_' + b"_" * 12 + b'"', write)
