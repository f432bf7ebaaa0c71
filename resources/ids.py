"""Random-looking but seeded identifiers: same seed, same ids, so producer output is byte-identical."""

from __future__ import annotations

import random

_VERSION_MASK = ~(0xF << 76) & ~(0x3 << 62)
_VERSION_BITS = (0x4 << 76) | (0x2 << 62)


def uuid4_from(rng: random.Random) -> str:
    """A version-4 UUID string drawn from ``rng``."""
    h = "%032x" % ((rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
