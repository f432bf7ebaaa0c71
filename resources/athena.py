"""The AWS twin of the SQL engine: Athena, started in a workgroup, polled with backoff, paged, stopped on timeout.

dagster-aws's Athena resource has no region, endpoint or output location, so this is our own. The same SQL files
run here as in DuckDB; parameters are validated, then rendered as literals (Athena's execution parameters are
positional and take SQL text anyway, so validation is what keeps input out of the SQL).

Writes are one ``UNLOAD … WITH (partitioned_by = ARRAY['dt'])`` per 100 partitions into a fresh prefix; the Glue
partitions then switch to it, so a reader sees the old version or the new one, never an empty one, and a failed
statement leaves the old one. The replaced version is kept until the next write (queries planned on it still find
their files), then deleted. Counts come from the UNLOAD manifest and Parquet footers.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from resources.catalog import GlueCatalog, TableDef, check_identifier, check_partition_value
from resources.engine import (
    DuckDBEngine,
    Engine,
    PartitionWrite,
    QueryStats,
    WriteResult,
    check_params,
    parquet_compression,
)
from resources.sql import parse
from resources.storage import Storage

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
# Athena writes at most 100 partitions per statement (HIVE_TOO_MANY_OPEN_PARTITIONS beyond).
UNLOAD_PARTITIONS = 100


def athena_type(hive_type: str) -> str:
    """A Glue column type as Athena's SQL spells it in a CAST (``string`` is ``VARCHAR``)."""
    return sqlglot.parse_one(f"CAST(x AS {hive_type})", read="hive").to.sql("athena")


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
    catalog: GlueCatalog
    local: DuckDBEngine
    database: str
    workgroup: str
    output_location: str
    region: str | None = None
    endpoint_url: str | None = None
    poll_initial_seconds: float = 0.05
    poll_max_seconds: float = 5.0
    timeout_seconds: float = 900.0

    seals_in_place: ClassVar[bool] = True

    def _athena(self):
        from resources.aws import client

        return client("athena", self.region, self.endpoint_url)

    def table_def(self, name: str):
        return self.local.table_def(name)

    def render(self, sql_file: str, params: Mapping[str, object], partitions=None) -> str:
        return self._render_tree(sql_file, params, partitions).sql("athena")

    def _render_tree(self, sql_file: str, params: Mapping[str, object], partitions=None) -> exp.Expression:
        # Views inlined, raw_lines among them: handed over in memory locally, a view over the objects here.
        tree = parse(sql_file)
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
        return tree

    def run_statement(self, sql: str, with_output: bool = False):
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
        if with_output:
            # Where the work group really put the results (it may enforce its own location): UNLOAD's manifest
            # sits beside them.
            output = execution.get("ResultConfiguration", {}).get("OutputLocation", self.output_location)
            return execution_id, stats, output
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

    def _register_raw(self, partitions) -> None:
        """Raw tables' partitions are Firehose's hour folders, fixed: register the ones a statement reads first."""
        for name, values in (partitions or {}).items():
            table = self.table_def(name)
            if table.format != "parquet" and table.partition_keys:
                self.catalog.ensure_table(table)
                self.catalog.add_partitions(name, list(values))

    def query(self, sql_file, params, partitions=None, inputs=None):
        if inputs:
            return self.local.query(sql_file, params, partitions, inputs)
        self._register_raw(partitions)
        execution_id, stats = self.run_statement(self.render(sql_file, params, partitions))
        table = self.fetch(execution_id)
        stats.rows = table.num_rows
        return table, stats

    def materialize(self, sql_file, params, target, partition_values: Sequence[str], partitions=None, inputs=None):
        table = self.table_def(target)
        if inputs:
            # In-memory lines are classified where they were read; their partitions are then registered here, as
            # every partition this engine writes is.
            result = self.local.materialize(sql_file, params, target, partition_values, partitions, inputs)
            self.catalog.swap_partitions(table, {v: w.uri.rsplit("/", 1)[0] for v, w in result.partitions.items()})
            return result
        self._register_raw(partitions)
        inner = self.render(sql_file, params, partitions)
        if not table.partition_column:
            return self._replace_whole(table, inner)
        values = sorted({check_partition_value(v) for v in partition_values})
        result = WriteResult(QueryStats(engine="athena", estimated=False, queries=0))
        batches = [values[i : i + UNLOAD_PARTITIONS] for i in range(0, len(values), UNLOAD_PARTITIONS)]
        for index, batch in enumerate(batches):
            # Rows outside the days asked for are kept out of the other batches' statements but not out of the
            # first and last: they land in the new prefix, are seen in the manifest and fail the write, so nothing
            # is silently dropped (as on DuckDB).
            low = batch[0] if index > 0 else None
            high = batch[-1] if index < len(batches) - 1 else None
            self._write_batch(table, inner, batch, low, high, result)
        return result

    def _unload(self, table: TableDef, inner: str, prefix: str, low: str | None = None, high: str | None = None):
        columns = [f"CAST({check_identifier(c.name)} AS {athena_type(c.hive_type)}) AS {c.name}"
                   for c in table.columns]
        where, partitioned = "", ""
        if table.partition_column:
            key = table.partition_keys[0]
            columns.append(f"CAST({check_identifier(key.name)} AS {athena_type(key.hive_type)}) AS {key.name}")
            bounds = [f"CAST({key.name} AS VARCHAR) >= '{check_partition_value(low)}'"] if low else []
            bounds += [f"CAST({key.name} AS VARCHAR) <= '{check_partition_value(high)}'"] if high else []
            where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
            partitioned = f", partitioned_by = ARRAY['{key.name}']"
        codec, level = parquet_compression(table)
        options = f"format = 'PARQUET', compression = '{codec.upper()}'" + (
            f", compression_level = {level}" if level else "") + partitioned
        sql = f"UNLOAD (SELECT {', '.join(columns)} FROM ({inner}){where}) TO '{prefix}/' WITH ({options})"
        try:
            execution_id, stats, output = self.run_statement(sql, with_output=True)
        except Exception:
            self._delete_prefix(prefix)  # a failed UNLOAD may leave files behind; the old version is untouched
            raise
        return stats, self._manifest(output)

    def _write_batch(self, table, inner, batch, low, high, result: WriteResult) -> None:
        prefix = self._new_prefix(table)
        stats, files = self._unload(table, inner, prefix, low, high)
        written: dict[str, list[str]] = {}
        for uri in files:
            folder = uri[len(prefix) + 1 :].split("/", 1)[0]
            written.setdefault(folder.split("=", 1)[1], []).append(uri)
        stray = sorted(set(written) - set(batch))
        if stray:
            self._delete_prefix(prefix)
            raise RuntimeError(
                f"{table.name}: the query returned rows for partitions {stray[:5]} outside the ones being written "
                f"({batch[0]}..{batch[-1]}): refusing to drop them"
            )
        locations = {v: f"{prefix}/{table.partition_column}={v}" for v in batch}
        for value in batch:
            rows, size = self._footers(written.get(value, []))
            result.partitions[value] = PartitionWrite(rows, size, locations[value])
        self._retire(table, self.catalog.swap_partitions(table, locations), locations.values())
        result.stats.seconds += stats.seconds
        result.stats.bytes_scanned += stats.bytes_scanned
        result.stats.queries += 1
        result.stats.rows = result.rows

    def _replace_whole(self, table: TableDef, inner: str) -> WriteResult:
        prefix = self._new_prefix(table)
        stats, files = self._unload(table, inner, prefix)
        rows, size = self._footers(files)
        self._retire(table, self.catalog.swap_location(table, prefix), [prefix])
        stats.rows = rows
        return WriteResult(stats, {"all": PartitionWrite(rows, size, prefix)})

    def _new_prefix(self, table: TableDef) -> str:
        # A fresh prefix per write: readers keep the old version until the catalog switches to the new one.
        return f"{table.location.rstrip('/')}/v-{uuid.uuid4().hex}"

    def _manifest(self, output_location: str) -> list[str]:
        """The data files an UNLOAD wrote, from the manifest Athena leaves beside its results."""
        manifest = re.sub(r"(\.csv)?$", "-manifest.csv", output_location, count=1)
        fs = self.storage.filesystem()
        with fs.open_input_stream(self.storage.resolve(manifest), compression=None) as stream:
            return [line for line in stream.read().decode().splitlines() if line.strip()]

    def _footers(self, files: Sequence[str]) -> tuple[int, int]:
        """Rows and bytes of Parquet files, from their footers (a range request each, no data read)."""
        fs, rows, size = self.storage.filesystem(), 0, 0
        for uri in files:
            with fs.open_input_file(self.storage.resolve(uri)) as handle:
                rows += pq.read_metadata(handle).num_rows
                size += handle.size()
        return rows, size

    def _retire(self, table: TableDef, old: Iterable[str], new: Iterable[str]) -> None:
        """Delete versions two writes old (the catalog keeps the last one for queries still reading it), only ever
        under the table's own location."""
        root, keep = table.location.rstrip("/") + "/", {n.rstrip("/") for n in new}
        for location in {o.rstrip("/") for o in old} - keep:
            if location.startswith(root):
                self._delete_prefix(location)

    def _delete_prefix(self, prefix: str) -> None:
        fs = self.storage.filesystem()
        for info in self.storage.list_uri(prefix):
            fs.delete_file(info.key)

    def data_files(self, target: str, values: Sequence[str]) -> dict[str, list[str]]:
        table = self.table_def(target)
        if not table.partition_column:
            located = self.catalog.table(target)
            return {"all": [o.key for o in self.storage.list_uri(located.location)] if located else []}
        locations = self.catalog.locations(target, list(values))
        return {v: sorted(o.key for o in self.storage.list_uri(locations[v])) if v in locations else []
                for v in values}
