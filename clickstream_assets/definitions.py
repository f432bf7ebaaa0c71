"""The one ``Definitions``: assembled from one module per layer; resources chosen by the profile."""

from __future__ import annotations

import dagster as dg

from clickstream_assets import (
    catalog,
    completeness,
    datasets,
    events,
    freshness,
    jobs,
    models,
    raw,
    sensors,
    truth,
)
from resources.profile import build_resources

ASSETS = [
    raw.raw_events,
    catalog.glue_raw_events,
    events.clean_events,
    catalog.glue_events,
    catalog.glue_quarantine,
    *models.model_assets,
    *models.model_tables,
    completeness.completeness,
    *datasets.dataset_assets,
    datasets.dashboard,
]


def build_definitions(resources: dict) -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=[*freshness.freshness_checks, truth.planted_truth],
        jobs=[jobs.seal_hours_job, jobs.build_days_job, jobs.freshness_job, jobs.producer_job],
        schedules=[jobs.freshness_schedule],
        sensors=[sensors.producer_sensor, sensors.arrival_sensor, sensors.automation_sensor],
        resources=resources,
    )


defs = build_definitions(build_resources())
