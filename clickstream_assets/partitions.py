"""The two calendars: arrival hours for raw data, event days for everything built from it."""

from __future__ import annotations

import json
import os
import warnings
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg

# BackfillPolicy is beta in Dagster 1.13 but is what makes a 30-day backfill one run; we choose it knowingly.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.*beta")
warnings.filterwarnings("ignore", message=r".*`owners`.*beta")

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

# The open hour and today are partitions too (end_offset=1), so live data can be sealed and built as it comes;
# sealing an hour again later replaces it whole and marks the days it feeds stale, so nothing is lost.
hourly_arrival = dg.HourlyPartitionsDefinition(start_date=f"{CALENDAR_START}-00:00", end_offset=1)
daily_event = dg.DailyPartitionsDefinition(start_date=CALENDAR_START, end_offset=1)


def hour_value(partition_key: str) -> str:
    """Dagster's hourly key ``2026-11-01-10:00`` as stored in paths and catalogs: ``2026-11-01-10``."""
    return partition_key[:13]


def hour_key(value: str) -> str:
    return f"{value}:00"


def hour_of(moment: datetime) -> str:
    """The arrival hour holding ``moment``: ``2026-11-01-10``."""
    return moment.strftime(HOUR_FORMAT)


def hour_start(value: str) -> datetime:
    """When the arrival hour ``2026-11-01-10`` begins, in UTC."""
    return datetime.strptime(value, HOUR_FORMAT).replace(tzinfo=timezone.utc)


def hour_partition(moment: datetime) -> str:
    """Dagster's hourly partition key of the hour holding ``moment``: ``2026-11-01-10:00``."""
    return hour_key(hour_of(moment))
