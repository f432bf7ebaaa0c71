"""Pipeline metrics: CloudWatch on AWS (namespace ``Clickstream``), a SQLite store under the warehouse locally."""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg

NAMESPACE = "Clickstream"
CLOUDWATCH_BATCH = 1000  # PutMetricData takes at most 1,000 data points a call


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    unit: str = "Count"
    dimensions: dict[str, str] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def points(values: dict[str, float], unit: str = "Count", **dimensions: str) -> list[MetricPoint]:
    return [MetricPoint(name, float(v), unit, dict(dimensions)) for name, v in values.items()]


def attributed(name: str, total: float, shares: dict[str, int], unit: str = "None", **dimensions: str) -> list[MetricPoint]:
    """Split one figure (a query's cost) over partitions by their share (bytes written), one point each."""
    weight = sum(shares.values())
    return [MetricPoint(name, total * (v / weight if weight else 1 / len(shares)), unit,
                        {**dimensions, "Partition": k}) for k, v in shares.items()] if shares else []


class Metrics(dg.ConfigurableResource, ABC):
    """Publishes pipeline figures and reads them back."""

    @abstractmethod
    def put(self, batch: Sequence[MetricPoint]) -> int:
        """Publish the points; returns how many API calls (or transactions) it took."""

    @abstractmethod
    def recent(self, name: str | None = None, hours: float = 24) -> list[MetricPoint]:
        """Points of the last ``hours``, newest first."""


class LocalMetrics(Metrics):
    """Local twin of CloudWatch: ``<warehouse>/metrics/metrics.db`` (SQLite, so readers and writers can overlap)."""

    warehouse: str

    def _connect(self) -> sqlite3.Connection:
        path = Path(self.warehouse) / "metrics" / "metrics.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=30)
        con.execute(
            "CREATE TABLE IF NOT EXISTS points (name TEXT, value REAL, unit TEXT, dimensions TEXT, ts TEXT)"
        )
        con.execute("CREATE INDEX IF NOT EXISTS points_name_ts ON points (name, ts)")
        return con

    def put(self, batch: Sequence[MetricPoint]) -> int:
        import json

        with self._connect() as con:
            con.executemany(
                "INSERT INTO points VALUES (?, ?, ?, ?, ?)",
                [(p.name, p.value, p.unit, json.dumps(p.dimensions, sort_keys=True), p.timestamp.isoformat())
                 for p in batch],
            )
        return 1 if batch else 0

    def recent(self, name: str | None = None, hours: float = 24) -> list[MetricPoint]:
        import json

        since = (datetime.now(timezone.utc) - timedelta(hours=hours)).isoformat()
        query = "SELECT name, value, unit, dimensions, ts FROM points WHERE ts >= ?"
        args: list = [since]
        if name:
            query += " AND name = ?"
            args.append(name)
        with self._connect() as con:
            rows = con.execute(query + " ORDER BY ts DESC", args).fetchall()
        return [MetricPoint(n, v, u, json.loads(d), datetime.fromisoformat(t)) for n, v, u, d, t in rows]


class CloudWatchMetrics(Metrics):
    """AWS twin: ``PutMetricData`` in batches of 1,000, namespace ``Clickstream``."""

    namespace: str = NAMESPACE
    region: str | None = None
    endpoint_url: str | None = None

    def _cw(self):
        from resources.aws import client

        return client("cloudwatch", self.region, self.endpoint_url)

    def put(self, batch: Sequence[MetricPoint]) -> int:
        cw = self._cw()
        calls = 0
        for start in range(0, len(batch), CLOUDWATCH_BATCH):
            cw.put_metric_data(
                Namespace=self.namespace,
                MetricData=[
                    {"MetricName": p.name, "Value": p.value, "Unit": p.unit, "Timestamp": p.timestamp,
                     "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(p.dimensions.items())]}
                    for p in batch[start : start + CLOUDWATCH_BATCH]
                ],
            )
            calls += 1
        return calls

    def recent(self, name: str | None = None, hours: float = 24) -> list[MetricPoint]:
        cw = self._cw()
        now = datetime.now(timezone.utc)
        found: list[MetricPoint] = []
        kwargs = {"Namespace": self.namespace}
        if name:
            kwargs["MetricName"] = name
        for page in cw.get_paginator("list_metrics").paginate(**kwargs):
            for metric in page["Metrics"]:
                stats = cw.get_metric_statistics(
                    Namespace=self.namespace, MetricName=metric["MetricName"], Dimensions=metric["Dimensions"],
                    StartTime=now - timedelta(hours=hours), EndTime=now + timedelta(minutes=5), Period=60,
                    Statistics=["Maximum"],
                )
                for dp in stats["Datapoints"]:
                    found.append(MetricPoint(metric["MetricName"], dp["Maximum"], dp.get("Unit", "None"),
                                             {d["Name"]: d["Value"] for d in metric["Dimensions"]}, dp["Timestamp"]))
        return sorted(found, key=lambda p: p.timestamp, reverse=True)
