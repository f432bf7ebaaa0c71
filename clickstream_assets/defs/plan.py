"""The run plan: four steps take sealed raw objects to the dashboard, one run each, whatever the number of days.

1. seal arrival days (raw/events), over a range of days;
2. build event days: clean events, quarantine and every daily model, over a range of days;
3. rebuild the whole (unpartitioned) tables over all days and keep the catalog's table definitions in step;
4. publish the datasets and the dashboard.

The demo, ``clickstream backfill``, the tests and the UI's jobs run these steps; the arrival sensor requests steps
1 and the first part of 2 (declarative automation builds the models after it). Each step is an asset job, so a
run in the UI shows which step it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from clickstream_assets.defs.processed.models import MODELS
from clickstream_assets.partitions import daily_arrival, daily_event


def _keys(*paths: list[str]) -> tuple[dg.AssetKey, ...]:
    return tuple(dg.AssetKey(p) for p in paths)


SEAL_KEYS = _keys(["raw", "events"])
# What the arrival sensor builds for a day its records land in; the models follow by automation.
EVENT_DAY_KEYS = _keys(["processed", "events"], ["processed", "quarantine"])
MODEL_DAY_KEYS = _keys(*[["processed", m.name] for m in MODELS if m.partitioned])
# Unpartitioned assets run apart from the daily ones: in a run over a range of days, Dagster plans every asset of
# the run once per day of the range, whole tables included.
WHOLE_KEYS = _keys(["glue", "raw_events"], ["glue", "events"], ["glue", "quarantine"],
                   *[["glue", m.name] for m in MODELS if m.partitioned],
                   *[[layer, m.name] for m in MODELS if not m.partitioned for layer in ("processed", "glue")],
                   ["processed", "completeness"])
PUBLISH_KEYS = _keys(*[["quicksight", m.name] for m in MODELS], ["quicksight", "dashboard"])
# Dagster's documented run tags for one run over a range of partitions (what a single-run backfill sets).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: str, last: str | None = None) -> dict[str, str]:
    return {RANGE_START_TAG: first, RANGE_END_TAG: last or first}


@dataclass(frozen=True)
class Step:
    name: str  # what the CLI prints
    job_name: str
    keys: tuple[dg.AssetKey, ...]
    partitions_def: dg.PartitionsDefinition | None
    description: str

    @property
    def selection(self) -> dg.AssetSelection:
        return dg.AssetSelection.assets(*self.keys)

    def job(self) -> dg.UnresolvedAssetJobDefinition:
        return dg.define_asset_job(self.job_name, selection=self.selection, partitions_def=self.partitions_def,
                                   description=self.description)


SEAL = Step("seal arrival days", "seal_days", SEAL_KEYS, daily_arrival,
            "Seal the arrival hours of arrival days (those whose objects changed).")
BUILD_DAYS = Step("build event days", "build_days", EVENT_DAY_KEYS + MODEL_DAY_KEYS, daily_event,
                  "Clean events, quarantine and the daily models for event days (late records included); their "
                  "partitions are registered in the catalog as they are written.")
REBUILD_WHOLE = Step("rebuild whole tables", "rebuild_whole_tables", WHOLE_KEYS, None,
                     "Rebuild the tables over all days (weekly lifecycle and retention, completeness) and keep the "
                     "catalog's table definitions in step with sql/ddl/.")
PUBLISH = Step("publish datasets and dashboard", "publish", PUBLISH_KEYS, None,
               "Publish every dataset and regenerate the dashboard.")
PLAN = (SEAL, BUILD_DAYS, REBUILD_WHOLE, PUBLISH)

seal_days_job = SEAL.job()
build_days_job = BUILD_DAYS.job()
rebuild_whole_tables_job = REBUILD_WHOLE.job()
publish_job = PUBLISH.job()
