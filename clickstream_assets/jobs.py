"""Jobs over the asset graph: sealing arrival hours, building event days, publishing. One per calendar."""

from __future__ import annotations

import dagster as dg

from clickstream_assets.partitions import daily_event, hourly_arrival

seal_hours_job = dg.define_asset_job(
    "seal_hours",
    selection=dg.AssetSelection.assets(["raw", "events"], ["glue", "raw_events"]),
    partitions_def=hourly_arrival,
    description="Seal arrival hours and register them in the catalog.",
)

build_days_job = dg.define_asset_job(
    "build_days",
    selection=dg.AssetSelection.groups("processed", "glue") - dg.AssetSelection.assets(["glue", "raw_events"]),
    partitions_def=daily_event,
    description="Clean events, quarantine and the daily models for event days, with their catalog tables.",
)
