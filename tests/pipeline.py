"""What the tests share: a user's pipeline on a throwaway warehouse (produce, then materialize through the real
Definitions), the asset groups runs select, the sensor and automation ticks run as the daemon would, and small
readers of raw objects and built files."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from clickstream_assets.cli.runs import arrival_range, run_assets
from clickstream_assets.definitions import build_definitions
from clickstream_assets.defs.plan import EVENT_DAY_KEYS, RANGE_END_TAG, RANGE_START_TAG, SEAL_KEYS
from clickstream_assets.defs.processed.models import MODELS
from clickstream_assets.defs.raw.sensors import plan_arrivals
from clickstream_assets.producer.runner import produce_historical
from clickstream_assets.producer.simulator import Mess
from clickstream_assets.settings import load_settings
from resources.profile import build_resources
from resources.sinks import LocalFirehoseSink

NOW = datetime(2026, 11, 20, tzinfo=timezone.utc)
SEAL = SEAL_KEYS
DAYS = EVENT_DAY_KEYS
# The models by how they are built: daily ones and whole tables (each with its catalog table), and what publishes.
DAILY = [[layer, m.name] for m in MODELS if m.partitioned for layer in ("processed", "glue")]
WHOLE = [[layer, m.name] for m in MODELS if not m.partitioned for layer in ("processed", "glue")]
PUBLISH = [["quicksight", m.name] for m in MODELS] + [["quicksight", "dashboard"]]


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
        """Seal the arrival days of [first, last] and the two after, as ``clickstream backfill`` does."""
        first_day, last_day = arrival_range(first, last, now=NOW)
        return run_assets(self.defs, self.instance, SEAL, first_day, last_day, "seal")

    def seal_days(self, first: date, last: date | None = None):
        """Seal exactly the arrival days [first, last] (their hours whose objects changed)."""
        return run_assets(self.defs, self.instance, SEAL, first.isoformat(), (last or first).isoformat(), "seal")

    def build(self, first: str, last: str | None = None, keys=DAYS):
        return run_assets(self.defs, self.instance, keys, first, last or first, "days")

    def days(self, first: date, n: int) -> list[str]:
        return [(first + timedelta(days=i)).isoformat() for i in range(n)]

    def parquet(self, table: str, day: str) -> Path:
        return self.warehouse / "processed" / table / f"dt={day}" / "part-0.parquet"

    def digest(self, table: str, day: str) -> str:
        return hashlib.sha256(self.parquet(table, day).read_bytes()).hexdigest()


def land(warehouse, at: datetime, n: int = 3) -> None:
    sink = LocalFirehoseSink(str(warehouse / "raw"), seed=int(at.timestamp()))
    event = {"event_id": "00000000-0000-4000-8000-000000000000", "schema_version": 1}
    sink.send([json.dumps({**event, "n": i}) for i in range(n)], now=at.timestamp())
    sink.flush()


def hold_back(warehouse: Path, since: datetime):
    """Take the raw objects that arrived at or after ``since`` out of the raw area, as if they had not arrived yet;
    returns the function that delivers them (moves them back, keys unchanged)."""
    held = warehouse / "held"
    later = [p for p in raw_objects(warehouse) if arrival_of(p.name) >= since.replace(tzinfo=timezone.utc)]
    for path in later:
        target = held / path.relative_to(warehouse)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)

    def deliver() -> None:
        for path in later:
            (held / path.relative_to(warehouse)).rename(path)

    return deliver


def digests(warehouse: Path, table: str) -> dict[str, str]:
    return {p.parent.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((warehouse / "processed" / table).glob("dt=*/part-0.parquet"))}


def run_sensor(pipeline: Pipeline, now: datetime, cursor: str | None) -> tuple[list[str], str]:
    """One arrival-sensor tick, its requests executed as the daemon would: returns the run keys."""
    requests, cursor = plan_arrivals(pipeline.resources["storage"], now, cursor)
    for request in requests:
        keys = [k.path for k in request.asset_selection]
        first = request.tags.get(RANGE_START_TAG, request.partition_key)
        last = request.tags.get(RANGE_END_TAG, request.partition_key)
        assert run_assets(pipeline.defs, pipeline.instance, keys, first, last).success
    return [r.run_key for r in requests], cursor


def run_automation(pipeline: Pipeline, cursor=None) -> tuple[list[str], object]:
    """Automation ticks until nothing more is requested, each request materialized: the assets it launched."""
    launched = []
    for _ in range(8):
        result = dg.evaluate_automation_conditions(defs=pipeline.defs, instance=pipeline.instance, cursor=cursor)
        cursor = result.cursor
        if not result.total_requested:
            return launched, cursor
        by_kind: dict[bool, dict] = {True: {}, False: {}}
        for key in pipeline.defs.resolve_all_asset_keys():
            partitions = result.get_requested_partitions(key)
            if partitions:
                by_kind[None not in partitions][key] = sorted(p for p in partitions if p)
        # Daily partitions first (they never depend on whole tables), then the whole tables over them.
        for partitioned, assets in sorted(by_kind.items(), reverse=True):
            if not assets:
                continue
            days = sorted({p for ps in assets.values() for p in ps})
            outcome = run_assets(pipeline.defs, pipeline.instance, [k.path for k in assets],
                                  days[0] if partitioned else None, days[-1] if partitioned else None)
            assert outcome.success and not outcome.blocking_failed, (outcome.error, outcome.blocking_failed)
            launched += [k.to_user_string() + (f"[{','.join(days)}]" if partitioned else "") for k in assets]
    raise AssertionError(f"automation kept requesting after 8 ticks: {launched}")


def dashboard_sessions(pipeline: Pipeline) -> int:
    """The sessions the dashboard page holds: the sum its script adds up for the sessions KPI over all days."""
    html = (pipeline.warehouse / "dashboard" / "index.html").read_text()
    block = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.S).group(1)
    funnel = json.loads(block)["data"]["funnel"]
    column = funnel["columns"].index("sessions")
    return sum(row[column] for row in funnel["rows"])


def parquet_rows(pipeline: Pipeline, table: str, day: str) -> int:
    return pq.read_metadata(pipeline.parquet(table, day)).num_rows


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
