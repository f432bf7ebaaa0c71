"""The AWS twin of the SQL engine: Athena, started in a workgroup, polled with backoff, paged, stopped on timeout.

dagster-aws's Athena resource has no region, endpoint or output location, so this is our own. The same SQL files
run here as in DuckDB; parameters are validated, then rendered as literals (Athena's execution parameters are
positional and take SQL text anyway, so validation is what keeps input out of the SQL).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import pyarrow as pa
import sqlglot
from sqlglot import exp

from resources.catalog import Catalog, check_identifier, check_partition_value
from resources.engine import (
    DuckDBEngine,
    Engine,
    PartitionWrite,
    QueryStats,
    WriteResult,
    check_params,
    load_sql,
    parquet_compression,
)
from resources.storage import Storage

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


class AthenaQueryError(RuntimeError):
    """Athena ended a query FAILED or CANCELLED; the message carries Athena's reason."""


def _convert(value: str | None, athena_type: str):
    if value is None:
        return None
    kind = athena_type.lower()
    if kind in ("bigint", "integer", "int", "smallint", "tinyint"):
        return int(value)
    if kind in ("double", "float", "real") or kind.startswith("decimal"):
        return float(value)
    if kind == "boolean":
        return value.lower() == "true"
    if kind == "date":
        return date.fromisoformat(value)
    if kind.startswith("timestamp"):
        return datetime.fromisoformat(value.replace(" UTC", ""))
    return value


class AthenaEngine(Engine):
    """Runs ``sql/`` files on Athena. In-memory inputs (raw lines being sealed) go to ``local``, a DuckDB engine
    over the same S3 storage: lines are split where the objects are read."""

    storage: Storage
    catalog: Catalog
    local: DuckDBEngine
    database: str
    workgroup: str
    output_location: str
    region: str | None = None
    endpoint_url: str | None = None
    poll_initial_seconds: float = 0.25
    poll_max_seconds: float = 5.0
    timeout_seconds: float = 900.0

    def _athena(self):
        from resources.aws import client

        return client("athena", self.region, self.endpoint_url)

    def table_def(self, name: str):
        return self.local.table_def(name)

    def render(self, sql_file: str, params: Mapping[str, object], partitions=None) -> str:
        tree = sqlglot.parse_one(load_sql(sql_file), read="athena")
        checked = check_params(params)
        for placeholder in list(tree.find_all(exp.Placeholder)):
            if placeholder.name not in checked:
                raise ValueError(f"{sql_file} needs parameter :{placeholder.name}")
            placeholder.replace(exp.Literal.string(checked[placeholder.name]))
        for name, values in (partitions or {}).items():
            table = self.table_def(name)
            if not table.partition_column:
                continue
            allowed = [exp.Literal.string(check_partition_value(v)) for v in values] or [exp.Null()]
            column = table.partition_column
            for node in list(tree.find_all(exp.Table)):
                if node.name == name:
                    # Read only the partitions asked for: the pipeline knows them, Athena then skips the rest.
                    subquery = sqlglot.select("*").from_(check_identifier(name)).where(
                        exp.In(this=exp.column(column) if column != "dt" else exp.Cast(
                            this=exp.column(column), to=exp.DataType.build("varchar")), expressions=allowed)
                    )
                    node.replace(subquery.subquery(node.alias_or_name))
        return tree.sql("athena")

    def run_statement(self, sql: str) -> tuple[str, QueryStats]:
        athena = self._athena()
        started = time.perf_counter()
        execution_id = athena.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self.database},
            WorkGroup=self.workgroup,
            ResultConfiguration={"OutputLocation": self.output_location},
        )["QueryExecutionId"]
        delay = self.poll_initial_seconds
        while True:
            execution = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
            state = execution["Status"]["State"]
            if state in TERMINAL:
                break
            if time.perf_counter() - started > self.timeout_seconds:
                athena.stop_query_execution(QueryExecutionId=execution_id)
                raise TimeoutError(
                    f"Athena query {execution_id} still {state} after {self.timeout_seconds:.0f} s: stopped it"
                )
            time.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(self.poll_max_seconds, delay * 2)
        statistics = execution.get("Statistics", {})
        stats = QueryStats(
            engine="athena",
            seconds=statistics.get("EngineExecutionTimeInMillis", 0) / 1000 or time.perf_counter() - started,
            bytes_scanned=statistics.get("DataScannedInBytes", 0),
            estimated=False,
        )
        if state != "SUCCEEDED":
            reason = execution["Status"].get("StateChangeReason", "no reason given")
            raise AthenaQueryError(f"Athena query {execution_id} {state}: {reason}")
        return execution_id, stats

    def fetch(self, execution_id: str) -> pa.Table:
        athena = self._athena()
        columns, rows, token, first_page = None, [], None, True
        while True:
            kwargs = {"QueryExecutionId": execution_id, "MaxResults": 1000}
            if token:
                kwargs["NextToken"] = token
            page = athena.get_query_results(**kwargs)
            info = page["ResultSet"].get("ResultSetMetadata", {}).get("ColumnInfo", [])
            if columns is None:
                columns = [(c["Name"], c.get("Type", "varchar")) for c in info]
            data = [[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"].get("Rows", [])]
            if first_page and data and [v for v in data[0]] == [n for n, _ in columns]:
                data = data[1:]  # Athena repeats the column names as the first row of a SELECT
            first_page = False
            rows.extend(data)
            token = page.get("NextToken")
            if not token:
                break
        columns = columns or []
        return pa.table({name: [_convert(r[i], kind) for r in rows] for i, (name, kind) in enumerate(columns)})

    def query(self, sql_file, params, partitions=None, inputs=None):
        if inputs:
            return self.local.query(sql_file, params, partitions, inputs)
        execution_id, stats = self.run_statement(self.render(sql_file, params, partitions))
        table = self.fetch(execution_id)
        stats.rows = table.num_rows
        return table, stats

    def materialize(self, sql_file, params, target, partition_values: Sequence[str], partitions=None, inputs=None):
        if inputs:
            return self.local.materialize(sql_file, params, target, partition_values, partitions, inputs)
        table = self.table_def(target)
        select = ", ".join(check_identifier(c.name) for c in table.columns)
        codec, level = parquet_compression(table)
        options = f"format = 'PARQUET', compression = '{codec.upper()}'" + (
            f", compression_level = {level}" if level else ""
        )
        result = WriteResult(QueryStats(engine="athena", estimated=False))
        inner = self.render(sql_file, params, partitions)
        values = ["all"] if not table.partition_column else [check_partition_value(v) for v in partition_values]
        for value in values:
            location = table.location.rstrip("/") if value == "all" else table.partition_location(value)
            self._clear(location)
            where = "" if value == "all" else f" WHERE CAST({table.partition_column} AS VARCHAR) = '{value}'"
            # One partition per statement keeps every UNLOAD far inside Athena's 100-partitions limit.
            _, stats = self.run_statement(
                f"UNLOAD (SELECT {select} FROM ({inner}){where}) TO '{location}/' "
                f"WITH ({options})"
            )
            result.stats.seconds += stats.seconds
            result.stats.bytes_scanned += stats.bytes_scanned
            result.stats.queries = len(result.partitions) + 1
            written = self.storage.list_uri(location)
            result.partitions[value] = PartitionWrite(rows=-1, bytes=sum(o.size for o in written), uri=location)
        return result

    def _clear(self, location: str) -> None:
        for info in self.storage.list_uri(location):
            self.storage.filesystem().delete_file(info.key)
