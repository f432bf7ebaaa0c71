"""The two calendars: arrival days for raw data (sealed hour by hour inside), event days for everything built from it."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg

DEFAULT_CALENDAR_START = "2026-11-01"
CALENDAR_FILE = "calendar.json"
HOUR_FORMAT = "%Y-%m-%d-%H"  # an arrival hour as stored in paths, manifests and catalogs: 2026-11-01-10


def warehouse_calendar_file() -> Path:
    """Where ``clickstream ingest`` records how far back the warehouse's history goes."""
    return Path(os.environ.get("CLICKSTREAM_HOME") or ".clickstream").expanduser().resolve() / CALENDAR_FILE


def calendar_start() -> str:
    """``$CLICKSTREAM_START_DATE``, else the first day of history imported into the warehouse, else the default.

    Read when the definitions load (partitions are fixed for a code location's life): after importing older
    history, ``dagster dev`` shows the new days on "Reload definitions".
    """
    explicit = os.environ.get("CLICKSTREAM_START_DATE")
    if explicit:
        return date.fromisoformat(explicit).isoformat()
    try:
        # As recorded, even after the default: a demo warehouse's calendar starts with its first day, not with holes.
        return date.fromisoformat(json.loads(warehouse_calendar_file().read_text())["start"]).isoformat()
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_CALENDAR_START


def extend_calendar(first_day: date) -> bool:
    """Let the calendar reach back to ``first_day`` (it only ever grows); True when it moved."""
    if first_day.isoformat() >= calendar_start():
        return False
    path = warehouse_calendar_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"start": first_day.isoformat()}))
    return True


# The first day the calendar holds; events before it are quarantined (no partition exists to hold them).
CALENDAR_START = calendar_start()

# Today is a partition too (end_offset=1), so live data can be sealed and built as it comes; sealing a day again
# later re-stages only the hours whose objects changed and marks the event days they feed stale, so nothing is lost.
# Raw data is partitioned by arrival *day*, not hour: Dagster records every partition of every run in its event log
# (~10 ms each on SQLite), so a half-year of hourly partitions cost minutes of bookkeeping for seconds of work.
daily_arrival = dg.DailyPartitionsDefinition(start_date=CALENDAR_START, end_offset=1)
daily_event = dg.DailyPartitionsDefinition(start_date=CALENDAR_START, end_offset=1)


def hour_of(moment: datetime) -> str:
    """The arrival hour holding ``moment``: ``2026-11-01-10``."""
    return moment.strftime(HOUR_FORMAT)


def hour_start(value: str) -> datetime:
    """When the arrival hour ``2026-11-01-10`` begins, in UTC."""
    return datetime.strptime(value, HOUR_FORMAT).replace(tzinfo=timezone.utc)


def hours_of_day(day: str) -> list[str]:
    """The 24 arrival hours of ``day`` (``2026-11-01``): ``2026-11-01-00`` … ``2026-11-01-23``."""
    return [f"{day}-{h:02d}" for h in range(24)]


# A run of at most this many days (what the sensors and the demo run) reports per-day detail: an observation per day,
# figures by partition, the column schema and lineage again on each day's materialization. Dagster copies a run's
# metadata onto every partition it materializes, so over a half-year backfill that detail was 177 copies of the
# same ~15 KB per asset, serialized three times each; the definitions carry the schema and lineage anyway.
OBSERVED_DAYS = 7


def per_day_detail(days: list[str], metadata: dict) -> dict:
    """``metadata`` for a run of a few days (or an unpartitioned one), nothing for a wider range."""
    return metadata if len(days) <= OBSERVED_DAYS else {}
