"""``python -m tests.history_warehouse WAREHOUSE START DAYS EVENTS_PER_DAY``: months of simulated history built
straight through the pipeline's own steps (seal every hour, build every day, every model, the catalog, the
dashboard), without a Dagster run per partition range. For tests that need a long warehouse to look at (the
dashboard at 180 days); the CLI path a user takes (`clickstream ingest` + `clickstream backfill`) has its own
six-month test. Run in a process of its own with ``CLICKSTREAM_START_DATE`` set: the calendar is fixed when the
definitions are imported."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path


def build(warehouse: Path, start: date, days: int, events_per_day: int, seed: int = 3) -> None:
    import dagster as dg

    from clickstream_assets.definitions import build_definitions
    from clickstream_assets.defs.glue.tables import register
    from clickstream_assets.defs.processed.events import build_days
    from clickstream_assets.defs.processed.models import MODELS
    from clickstream_assets.producer.runner import produce_historical
    from clickstream_assets.sealing import seal_hours
    from clickstream_assets.settings import load_settings
    from resources.profile import build_resources
    from resources.sinks import LocalFirehoseSink

    produce_historical(LocalFirehoseSink(str(warehouse / "raw"), seed=seed), start, days, events_per_day, seed=seed,
                       now=datetime.combine(start + timedelta(days=days + 1), datetime.min.time(), timezone.utc))
    resources = build_resources("local", warehouse)
    storage, engine, catalog, settings = resources["storage"], resources["engine"], resources["catalog"], \
        load_settings()
    hours = sorted({"-".join(p.parent.relative_to(warehouse / "raw" / "events").parts)
                    for p in (warehouse / "raw" / "events").rglob("*") if p.is_file()})
    seal_hours(storage, engine, hours, start.isoformat())
    register(catalog, storage, ["raw_events", "staged_events"], hours)
    all_days = [(start + timedelta(days=d)).isoformat() for d in range(days)]
    build_days(storage, engine, settings, all_days)
    register(catalog, storage, ["events", "quarantine"], all_days)
    for model in MODELS:
        window = all_days if model.partitioned else []
        params = {"first_day": all_days[0], "last_day": all_days[-1]} if window else {}
        engine.materialize(model.sql_file, {**params, **settings.page_params()}, model.name, window)
        register(catalog, storage, [model.name], window)
    defs = build_definitions(resources)
    result = dg.materialize([defs.get_assets_def(dg.AssetKey(["quicksight", "dashboard"]))],
                            resources={**resources, "settings": settings},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success


if __name__ == "__main__":
    build(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
