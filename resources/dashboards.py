"""Datasets and the dashboard: QuickSight on AWS, a self-contained HTML page locally."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from resources.catalog import TableDef
from resources.dashboard_spec import DashboardInputs
from resources.files import write_text_durably
from resources.html_dashboard import render


class Dashboards(dg.ConfigurableResource, ABC):
    """Publishes one dataset per model table and a dashboard built from the repo's definition."""

    @abstractmethod
    def publish_dataset(self, name: str, table: TableDef) -> dict:
        """Create or update the dataset over ``table``; returns metadata (id, location)."""

    @abstractmethod
    def publish_dashboard(self, inputs: DashboardInputs) -> dict:
        """Create or update the dashboard from ``inputs.definition``; returns metadata (id or path)."""


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_durably(path, text)


class LocalDashboards(Dashboards):
    """Local twin of QuickSight: dataset definitions as JSON and ``<warehouse>/dashboard/index.html``."""

    warehouse: str

    @property
    def root(self) -> Path:
        return Path(self.warehouse) / "dashboard"

    def publish_dataset(self, name: str, table: TableDef) -> dict:
        spec = {
            "name": name,
            "source_table": table.name,
            "location": table.location,
            "columns": [{"name": c.name, "type": c.hive_type} for c in table.columns + table.partition_keys],
        }
        path = self.root / "datasets" / f"{name}.json"
        _write_atomic(path, json.dumps(spec, indent=1))
        return {"dataset_path": str(path), "columns": len(spec["columns"])}

    def publish_dashboard(self, inputs: DashboardInputs) -> dict:
        # The page adds up the rows itself (filters, KPIs), so it needs every dataset's rows embedded.
        data = {d["id"]: inputs.rows(d) for d in inputs.definition["datasets"]}
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        html = render(inputs.definition, data, inputs.health(), generated)
        path = self.root / "index.html"
        _write_atomic(path, html)
        return {"dashboard_path": dg.MetadataValue.path(str(path)), "bytes": len(html.encode()),
                "rows_embedded": sum(len(r) for r in data.values() if r),
                "not_built_yet": ", ".join(k for k, r in data.items() if r is None) or "none"}
