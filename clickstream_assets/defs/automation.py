"""The automation sensor: declarative automation over the whole graph (conditions in clickstream_assets/automation.py)."""

import dagster as dg

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Declarative automation: models, catalog tables, datasets and the dashboard follow new data.",
)
