"""Which profile runs (``local`` or ``aws``) and where the local warehouse lives: one place for both."""

from __future__ import annotations

import os
from pathlib import Path

PROFILES = ("local", "aws")
DEFAULT_WAREHOUSE = ".clickstream"


def current_profile() -> str:
    profile = os.environ.get("CLICKSTREAM_PROFILE", "local").strip().lower()
    if profile not in PROFILES:
        raise ValueError(f"CLICKSTREAM_PROFILE must be one of {', '.join(PROFILES)}, not {profile!r}")
    return profile


def warehouse_path(explicit: str | None = None) -> Path:
    """``--warehouse``, else ``$CLICKSTREAM_HOME``, else ``./.clickstream``; always absolute."""
    raw = explicit or os.environ.get("CLICKSTREAM_HOME") or DEFAULT_WAREHOUSE
    return Path(raw).expanduser().resolve()


def dagster_home(warehouse: Path) -> Path:
    """``$DAGSTER_HOME``, else ``<warehouse>/dagster`` so the CLI and ``make ui`` share runs."""
    return Path(os.environ.get("DAGSTER_HOME") or warehouse / "dagster").expanduser().resolve()


def ensure_dagster_home(warehouse: Path) -> Path:
    home = dagster_home(warehouse)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def build_resources(profile: str | None = None, warehouse: Path | None = None) -> dict:
    """The resource set of a profile: the same keys on both, only the twins differ."""
    from clickstream_assets.settings import PipelineSettings
    from resources.catalog import LocalCatalog
    from resources.dashboards import LocalDashboards
    from resources.engine import DuckDBEngine
    from resources.storage import LocalStorage

    profile = profile or current_profile()
    warehouse = warehouse or warehouse_path()
    if profile == "aws":
        raise NotImplementedError("the aws profile's resources arrive with the AWS profile issue")
    storage = LocalStorage(warehouse=str(warehouse))
    catalog = LocalCatalog(warehouse=str(warehouse))
    return {
        "storage": storage,
        "catalog": catalog,
        "engine": DuckDBEngine(storage=storage, catalog=catalog),
        "settings": PipelineSettings(),
        "dashboards": LocalDashboards(warehouse=str(warehouse)),
    }
