"""The definitions load from defs/ and form the graph a user expects: fast, no data, no run."""

from __future__ import annotations

import dagster as dg
import pytest

from clickstream_assets.definitions import build_definitions
from clickstream_assets.defs.plan import PLAN
from clickstream_assets.defs.processed.models import MODELS
from clickstream_assets.settings import load_settings
from resources.profile import build_resources


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    return build_definitions(build_resources("local", tmp_path_factory.mktemp("w")))


def test_every_layer_has_its_assets_under_its_prefix(defs):
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    models = {m.name for m in MODELS}
    assert {"raw/events", "glue/raw_events", "processed/events", "processed/quarantine", "glue/events",
            "glue/quarantine", "processed/completeness", "quicksight/dashboard"} <= keys
    assert {f"{layer}/{m}" for m in models for layer in ("processed", "glue", "quicksight")} <= keys
    assert {k.split("/")[0] for k in keys} == {"raw", "glue", "processed", "quicksight"}


def test_raw_is_partitioned_by_arrival_day_and_the_built_data_by_event_day(defs):
    graph = defs.resolve_asset_graph()

    def calendar(key: str) -> str:
        partitions = graph.get(dg.AssetKey(key.split("/"))).partitions_def
        return "" if partitions is None else partitions.get_cron_schedule()

    # Both daily: raw by the day objects arrived (sealed hour by hour inside), the rest by the day events happened.
    assert calendar("raw/events") == "0 0 * * *"
    assert calendar("processed/events") == calendar("processed/sessions") == "0 0 * * *"
    assert calendar("processed/retention_weekly") == calendar("quicksight/dashboard") == ""
    # A processed table's catalog asset is its definition; the writes register its partitions.
    assert calendar("glue/raw_events") == calendar("glue/events") == calendar("glue/sessions") == ""


def test_the_checks_users_rely_on_are_there_and_block_bad_events(defs):
    graph = defs.resolve_asset_graph()
    checks = {f"{k.asset_key.to_user_string()}:{k.name}": graph.get_check_spec(k).blocking
              for k in graph.asset_check_keys}
    assert checks["processed/events:counts_reconcile"] and checks["processed/events:contract_and_types"]
    assert checks["processed/quarantine:reasons_known"]
    assert "processed/funnel_daily:planted_truth" in checks
    assert {f"processed/{m.name}:scan_budget" for m in MODELS} <= set(checks)
    assert {"raw/events:freshness_lag", "quicksight/dashboard:freshness_lag"} <= set(checks)


def test_the_dashboard_is_downstream_of_raw_through_every_layer(defs):
    graph = defs.resolve_asset_graph()
    path, key = [], dg.AssetKey(["quicksight", "dashboard"])
    # Walk up from the dashboard through sessions to raw: each step is a real dependency.
    for parent in (["quicksight", "sessions"], ["glue", "sessions"], ["processed", "sessions"],
                   ["processed", "events"], ["raw", "events"]):
        assert dg.AssetKey(parent) in graph.get(key).parent_keys, f"{parent} is not upstream of {key}"
        path.append(key)
        key = dg.AssetKey(parent)
    assert key == dg.AssetKey(["raw", "events"]) and len(path) == 5


def test_the_run_plan_covers_every_asset_once_and_each_step_is_a_job(defs):
    keys = [k for step in PLAN for k in step.keys]
    assert len(keys) == len(set(keys))
    assert set(keys) == set(defs.resolve_asset_graph().get_all_asset_keys())
    assert {step.job_name for step in PLAN} <= {job.name for job in defs.resolve_all_job_defs()}
    assert {s.name for s in defs.sensors} == {"arrival_sensor", "producer_sensor", "automation"}


def test_a_setting_from_the_environment_reaches_the_settings_resource(monkeypatch):
    monkeypatch.setenv("CLICKSTREAM_SEAL_GRACE_MINUTES", "25")
    assert load_settings().seal_grace_minutes == 25
