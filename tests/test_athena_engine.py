"""Our Athena engine against a moto server: preset results, paging, FAILED with a reason, timeout then stop."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest

from resources.athena import AthenaEngine, AthenaQueryError
from resources.catalog import GlueCatalog
from resources.engine import DuckDBEngine
from resources.storage import S3Storage


def preset(moto: str, rows: list[list[str]], columns: list[tuple[str, str]]) -> None:
    """Queue a result on moto: it hands it to the next query whose results are read."""
    body = {"results": [{
        "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
        "column_info": [{"Name": n, "Label": n, "Type": t, "CatalogName": "hive", "SchemaName": "", "TableName": "",
                         "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": False}
                        for n, t in columns],
    }]}
    request = urllib.request.Request(f"{moto}/moto-api/static/athena/query-results", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


class Paging:
    """moto returns the whole result on every GetQueryResults call; real Athena pages at MaxResults with NextToken.
    This shim slices moto's (real HTTP) answer the way Athena pages it, so the engine's paging loop is exercised."""

    def __init__(self, client, state: str | None = None, reason: str = ""):
        self.client, self.state, self.reason, self.result_calls = client, state, reason, 0

    def get_query_results(self, QueryExecutionId, MaxResults=1000, NextToken=None):  # noqa: N803
        self.result_calls += 1
        full = self.client.get_query_results(QueryExecutionId=QueryExecutionId)
        rows = full["ResultSet"]["Rows"]
        start = int(NextToken or 0)
        page = {"ResultSet": {"Rows": rows[start : start + MaxResults],
                              "ResultSetMetadata": full["ResultSet"]["ResultSetMetadata"]}}
        if start + MaxResults < len(rows):
            page["NextToken"] = str(start + MaxResults)
        return page

    def get_query_execution(self, QueryExecutionId):  # noqa: N803
        execution = self.client.get_query_execution(QueryExecutionId=QueryExecutionId)
        if self.state:
            execution["QueryExecution"]["Status"] = {"State": self.state, "StateChangeReason": self.reason}
        return execution

    def __getattr__(self, name):
        return getattr(self.client, name)


class ShimmedAthena(AthenaEngine):
    def _athena(self):
        return self._shim


@pytest.fixture
def engine(moto, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    athena = boto3.client("athena", endpoint_url=moto)
    athena.create_work_group(Name="wg", Configuration={"ResultConfiguration": {"OutputLocation": "s3://out/"}})
    storage = S3Storage(raw_bucket="raw", processed_bucket="processed", endpoint_url=moto)
    catalog = GlueCatalog(database="db", endpoint_url=moto)
    built = ShimmedAthena(storage=storage, catalog=catalog, local=DuckDBEngine(storage=storage, catalog=catalog),
                          database="db", workgroup="wg", output_location="s3://out/", endpoint_url=moto,
                          poll_initial_seconds=0.01, timeout_seconds=0.3)
    object.__setattr__(built, "_shim", Paging(athena))
    return built, athena


def test_results_are_read_across_pages_with_types(engine, moto):
    built, _ = engine
    rows = [["dt", "sessions", "conversion_rate"]] + [[f"2026-11-{d:02d}", str(1000 + d), "0.05"] for d in range(1, 28)]
    rows = rows + [[f"2026-12-{d:02d}", str(2000 + d), "0.04"] for d in range(1, 28)] * 50
    preset(moto, rows, [("dt", "date"), ("sessions", "bigint"), ("conversion_rate", "double")])
    table, stats = built.query("dashboard/conversion_over_time.sql", {})
    assert table.num_rows == len(rows) - 1 == 27 + 27 * 50  # the header row is not data
    assert table.column("sessions").to_pylist()[:2] == [1001, 1002]
    assert str(table.column("dt").to_pylist()[0]) == "2026-11-01"
    assert built._shim.result_calls == 2  # 1,378 rows at 1,000 a page
    assert stats.engine == "athena" and stats.estimated is False


def test_a_failed_query_raises_with_athenas_reason(engine):
    built, _ = engine
    built._shim.state, built._shim.reason = "FAILED", "SYNTAX_ERROR: line 1:8: Column 'x' cannot be resolved"
    with pytest.raises(AthenaQueryError, match="FAILED: SYNTAX_ERROR: line 1:8"):
        built.query("dashboard/kpis.sql", {})


def test_a_query_past_its_timeout_is_stopped(engine):
    built, athena = engine
    built._shim.state = "RUNNING"
    with pytest.raises(TimeoutError, match="stopped it"):
        built.query("dashboard/kpis.sql", {})
    last = athena.list_query_executions()["QueryExecutionIds"][-1]
    assert athena.get_query_execution(QueryExecutionId=last)["QueryExecution"]["Status"]["State"] == "CANCELLED"


def test_partition_values_become_validated_literals(engine):
    built, _ = engine
    sql = built.render("models/funnel_daily.sql", {"first_day": "2026-11-02", "last_day": "2026-11-03"},
                       partitions={"sessions": ["2026-11-02", "2026-11-03"]})
    assert "'2026-11-02'" in sql and ":first_day" not in sql
    assert "IN ('2026-11-02', '2026-11-03')" in sql
    with pytest.raises(ValueError):
        built.render("models/funnel_daily.sql", {"first_day": "2026-11-02' OR '1'='1", "last_day": "2026-11-03"})
