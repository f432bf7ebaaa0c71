"""A user's pipeline on a throwaway warehouse: produce, then materialize through the real Definitions."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg

from clickstream_assets.cli.runs import hour_range, run_assets
from clickstream_assets.definitions import build_definitions
from clickstream_assets.defs.plan import EVENT_DAY_KEYS, SEAL_KEYS
from clickstream_assets.partitions import hour_key
from clickstream_assets.producer.runner import produce_historical
from clickstream_assets.producer.simulator import Mess
from clickstream_assets.settings import load_settings
from resources.profile import build_resources
from resources.sinks import LocalFirehoseSink

NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
SEAL = SEAL_KEYS
DAYS = EVENT_DAY_KEYS


class Pipeline:
    def __init__(self, warehouse: Path, instance: dg.DagsterInstance | None = None):
        self.warehouse = warehouse
        self.resources = {**build_resources("local", warehouse), "settings": load_settings()}
        self.defs = build_definitions(self.resources)
        self.instance = instance or dg.DagsterInstance.ephemeral()

    def produce(self, start: date, days: int, events_per_day: int, seed: int = 7, mess: Mess | None = None):
        sink = LocalFirehoseSink(str(self.warehouse / "raw"), seed=seed)
        return produce_historical(sink, start, days, events_per_day, seed=seed, mess=mess, now=NOW)

    def seal(self, first: date, last: date):
        first_hour, last_hour = hour_range(first, last, now=NOW)
        return run_assets(self.defs, self.instance, SEAL, first_hour, last_hour, "seal")

    def seal_hours(self, first: datetime, last: datetime):
        fmt = lambda t: hour_key(t.strftime("%Y-%m-%d-%H"))  # noqa: E731
        return run_assets(self.defs, self.instance, SEAL, fmt(first), fmt(last), "seal")

    def build(self, first: str, last: str | None = None, keys=DAYS):
        return run_assets(self.defs, self.instance, keys, first, last or first, "days")

    def days(self, first: date, n: int) -> list[str]:
        return [(first + timedelta(days=i)).isoformat() for i in range(n)]

    def parquet(self, table: str, day: str) -> Path:
        return self.warehouse / "processed" / table / f"dt={day}" / "part-0.parquet"

    def digest(self, table: str, day: str) -> str:
        return hashlib.sha256(self.parquet(table, day).read_bytes()).hexdigest()
