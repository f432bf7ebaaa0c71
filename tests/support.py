"""Small readers the tests share: raw objects of a warehouse, their lines and arrival times."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path


def raw_objects(warehouse: Path) -> list[Path]:
    return sorted(p for p in (warehouse / "raw").rglob("*") if p.is_file() and not p.name.startswith("."))


def arrival_of(key: str) -> datetime:
    stamp = key.rsplit("/", 1)[-1].split("-1-", 1)[1][:19]
    return datetime.strptime(stamp, "%Y-%m-%d-%H-%M-%S").replace(tzinfo=timezone.utc)


def raw_lines(warehouse: Path) -> list[tuple[Path, bytes]]:
    out = []
    for path in raw_objects(warehouse):
        data = path.read_bytes()
        assert data.endswith(b"\n"), f"{path} does not end with a newline"
        out.extend((path, line) for line in data[:-1].split(b"\n"))
    return out


def events(warehouse: Path) -> list[dict]:
    """Every raw line that parses as a JSON object."""
    found = []
    for _, line in raw_lines(warehouse):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            found.append(record)
    return found
