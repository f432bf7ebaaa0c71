"""The two calendars: arrival hours for raw data, event days for everything built from it."""

from __future__ import annotations

import os
import warnings
from datetime import date

import dagster as dg

# BackfillPolicy is beta in Dagster 1.13 but is what makes a 30-day backfill one run; we choose it knowingly.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.*beta")
warnings.filterwarnings("ignore", message=r".*`owners`.*beta")

# The first day the calendar holds; events before it are quarantined (no partition exists to hold them).
CALENDAR_START = os.environ.get("CLICKSTREAM_START_DATE", "2026-11-01")
date.fromisoformat(CALENDAR_START)

# The open hour and today are partitions too (end_offset=1), so live data can be sealed and built as it comes;
# sealing an hour again later replaces it whole and marks the days it feeds stale, so nothing is lost.
hourly_arrival = dg.HourlyPartitionsDefinition(start_date=f"{CALENDAR_START}-00:00", end_offset=1)
daily_event = dg.DailyPartitionsDefinition(start_date=CALENDAR_START, end_offset=1)


def hour_value(partition_key: str) -> str:
    """Dagster's hourly key ``2026-11-01-10:00`` as stored in paths and catalogs: ``2026-11-01-10``."""
    return partition_key[:13]


def hour_key(value: str) -> str:
    return f"{value}:00"
