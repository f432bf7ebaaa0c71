"""A test engine that answers Athena's query calls by running the Trino SQL on DuckDB (served over real HTTP by
tests/athena_http.py).

moto stores Athena queries but runs none, so the aws profile's default engine could never be exercised. This
engine takes ``StartQueryExecution``, ``GetQueryExecution``, ``GetQueryResults`` and ``StopQueryExecution``. It
reads tables the way Athena does: definitions and partition locations from moto's Glue, objects from moto's S3,
only the partitions left by the predicates on the partition column (evaluated on the partition values, as Athena
prunes), and bills the bytes of the objects it read. UNLOAD is written the way Athena writes it: its own file names, several files per partition, ``partitioned_by`` folders, a
data manifest in the results location, and a refusal when the target prefix already holds objects.

It is a twin for tests, not an emulator of Athena's every rule: text tables are the ``RegexSerDe`` kind the
pipeline declares, and JSON SerDe tables are refused with a clear error.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlparse

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from resources.catalog import duckdb_type
from resources.duckdb_sql import athena_count_if, referenced_tables

UNLOAD = re.compile(r"^\s*UNLOAD\s*\((?P<query>.*)\)\s*TO\s*'(?P<target>s3://[^']+)'\s*WITH\s*\((?P<options>.*)\)\s*$",
                    re.S | re.I)
OPTION = re.compile(r"(\w+)\s*=\s*(ARRAY\s*\[[^\]]*\]|'[^']*'|[0-9]+)", re.I)
ROWS_PER_FILE = 4_000  # small, so that test data spans several files as Athena's writers do


@dataclass
class Execution:
    id: str
    sql: str
    database: str
    output_location: str
    workgroup: str
    state: str = "QUEUED"
    reason: str = ""
    bytes_scanned: int = 0
    millis: int = 0
    result: pa.Table | None = None
    unload: bool = False
    files_written: list[str] = field(default_factory=list)


class AthenaTwin:
    """Runs queries; ``log`` holds every execution so tests can count statements and bytes."""

    def __init__(self, moto: str):
        self.moto = moto
        self.log: list[Execution] = []
        self.lock = threading.Lock()
        self.delay_seconds = 0.0  # tests raise it to observe a partition while a rebuild runs
        self.fail_after_files: int | None = None  # tests set it to fail an UNLOAD midway, files half written

    def _client(self, service: str):
        return boto3.client(service, endpoint_url=self.moto, region_name="us-east-1")

    # ---- execution ---------------------------------------------------------------------------------------------
    def start(self, sql: str, database: str, output_location: str, workgroup: str) -> str:
        execution = Execution(f"{uuid.uuid4()}", sql, database, output_location, workgroup)
        with self.lock:
            self.log.append(execution)
        threading.Thread(target=self._run, args=(execution,), daemon=True).start()
        return execution.id

    def find(self, execution_id: str) -> Execution | None:
        with self.lock:
            return next((e for e in self.log if e.id == execution_id), None)

    def _run(self, execution: Execution) -> None:
        started = time.perf_counter()
        execution.state = "RUNNING"
        try:
            if self.delay_seconds:
                time.sleep(self.delay_seconds)
            match = UNLOAD.match(execution.sql)
            if match:
                execution.unload = True
                table = self._select(execution, match["query"])
                self._unload(execution, table, match["target"], match["options"])
            else:
                execution.result = self._select(execution, execution.sql)
            if execution.state == "RUNNING":
                execution.state = "SUCCEEDED"
        except Exception as error:  # every failure becomes a FAILED query with Athena's kind of reason
            execution.state, execution.reason = "FAILED", f"{type(error).__name__}: {error}"
        execution.millis = int((time.perf_counter() - started) * 1000)

    def _select(self, execution: Execution, sql: str) -> pa.Table:
        tree = sqlglot.parse_one(sql, read="athena")
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        for name in sorted(referenced_tables(tree)):
            execution.bytes_scanned += self._bind(con, execution.database, name, tree)
        athena_count_if(tree)
        _trino_functions(tree)
        return con.sql(tree.sql("duckdb")).to_arrow_table()

    def _bind(self, con, database: str, name: str, tree: exp.Expression) -> int:
        glue, s3 = self._client("glue"), self._client("s3")
        found = glue.get_table(DatabaseName=database, Name=name)["Table"]
        sd = found["StorageDescriptor"]
        keys = found.get("PartitionKeys", [])
        if keys:
            paginator = glue.get_paginator("get_partitions")
            partitions = [(p["Values"][0], p["StorageDescriptor"]["Location"])
                          for page in paginator.paginate(DatabaseName=database, TableName=name)
                          for p in page["Partitions"]]
            key = keys[0]["Name"]
            wanted = _pruned([v for v, _ in partitions], key, keys[0]["Type"], _partition_filter(tree, name, key))
            partitions = [(v, loc) for v, loc in partitions if v in wanted]
        else:
            partitions = [(None, sd["Location"])]
        serde = sd["SerdeInfo"].get("SerializationLibrary", "")
        text = "RegexSerDe" in serde
        if "Json" in serde:
            raise NotImplementedError(f"the test engine reads no JSON SerDe tables ({name})")
        pieces, scanned = [], 0
        for value, location in partitions:
            for key, size, body in _objects(s3, location):
                scanned += size
                piece = _text_lines(body, location, key) if text else pq.read_table(io.BytesIO(body))
                if keys:
                    piece = piece.append_column(keys[0]["Name"], pa.array([value] * piece.num_rows, pa.string()))
                pieces.append(piece)
        columns = [(c["Name"], c["Type"]) for c in sd["Columns"]] + [(k["Name"], k["Type"]) for k in keys]
        if text:
            columns.append(("$path", "string"))
        typed = ", ".join(f'CAST("{n}" AS {duckdb_type(t)}) AS "{n}"' for n, t in columns)
        if pieces:
            con.register(f"__{name}", pa.concat_tables(pieces, promote_options="permissive"))
            con.execute(f'CREATE VIEW "{name}" AS SELECT {typed} FROM "__{name}"')
        else:
            empty = ", ".join(f'CAST(NULL AS {duckdb_type(t)}) AS "{n}"' for n, t in columns)
            con.execute(f'CREATE VIEW "{name}" AS SELECT {empty} WHERE false')
        return scanned

    def _unload(self, execution: Execution, table: pa.Table, target: str, options: str) -> None:
        settings = {k.lower(): v for k, v in OPTION.findall(options)}
        if settings.get("format", "").strip("'").upper() != "PARQUET":
            raise ValueError("the test engine writes UNLOAD as PARQUET only")
        codec = settings.get("compression", "'SNAPPY'").strip("'").lower()
        level = int(settings["compression_level"]) if "compression_level" in settings else None
        by = re.findall(r"'([^']+)'", settings.get("partitioned_by", ""))
        s3 = self._client("s3")
        bucket, prefix = _split(target)
        if s3.list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/", MaxKeys=1).get("KeyCount"):
            raise FileExistsError(f"HIVE_PATH_ALREADY_EXISTS: Target directory for table {target} already exists")
        if by and table.column_names[-len(by):] != by:
            raise ValueError(f"partitioned_by columns {by} must be the last columns of the SELECT")
        groups: list[tuple[str, pa.Table]] = []
        if by:
            column = by[0]
            values = table.column(column).to_pylist()
            data = table.drop_columns(by)
            for value in sorted({v for v in values}, key=str):
                mask = pa.array([v == value for v in values])
                groups.append((f"{column}={_partition_text(value)}/", data.filter(mask)))
        elif table.num_rows:
            groups.append(("", table))
        for folder, rows in groups:
            files = max(2 if rows.num_rows > 1 else 1, -(-rows.num_rows // ROWS_PER_FILE))
            step = -(-rows.num_rows // files)
            for n in range(files):
                buffer = io.BytesIO()
                pq.write_table(rows.slice(n * step, step), buffer, compression=codec, compression_level=level)
                key = f"{prefix.rstrip('/')}/{folder}{execution.id.replace('-', '')[:20]}_{uuid.uuid4()}"
                s3.put_object(Bucket=bucket, Key=key.lstrip("/"), Body=buffer.getvalue())
                execution.files_written.append(f"s3://{bucket}/{key.lstrip('/')}")
                if self.fail_after_files is not None and len(execution.files_written) >= self.fail_after_files:
                    self.fail_after_files = None
                    raise RuntimeError("injected: the UNLOAD's workers failed after writing some files")
        out_bucket, out_prefix = _split(execution.output_location)
        manifest = "".join(f"{uri}\n" for uri in execution.files_written)
        s3.put_object(Bucket=out_bucket, Key=f"{out_prefix.rstrip('/')}/{execution.id}-manifest.csv".lstrip("/"),
                      Body=manifest.encode())

    # ---- results -----------------------------------------------------------------------------------------------
    def results(self, execution: Execution, max_results: int, token: str | None) -> dict:
        table = execution.result if execution.result is not None else pa.table({})
        info = [{"Name": f.name, "Label": f.name, "Type": _athena_type(f.type), "CatalogName": "hive",
                 "SchemaName": "", "TableName": "", "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN",
                 "CaseSensitive": False} for f in table.schema]
        rows = [{"Data": [{"VarCharValue": f.name} for f in table.schema]}]  # Athena repeats the header first
        for record in table.to_pylist():
            rows.append({"Data": [{} if v is None else {"VarCharValue": _text(v)} for v in record.values()]})
        start = int(token or 0)
        page = {"ResultSet": {"Rows": rows[start : start + max_results], "ResultSetMetadata": {"ColumnInfo": info}},
                "UpdateCount": 0}
        if start + max_results < len(rows):
            page["NextToken"] = str(start + max_results)
        return page

    def describe(self, execution: Execution) -> dict:
        status = {"State": execution.state, "SubmissionDateTime": time.time()}
        if execution.reason:
            status["StateChangeReason"] = execution.reason
        return {"QueryExecution": {
            "QueryExecutionId": execution.id, "Query": execution.sql,
            "StatementType": "DML", "Status": status, "WorkGroup": execution.workgroup,
            "QueryExecutionContext": {"Database": execution.database},
            "ResultConfiguration": {"OutputLocation": f"{execution.output_location.rstrip('/')}/{execution.id}.csv"},
            "Statistics": {"EngineExecutionTimeInMillis": execution.millis,
                           "DataScannedInBytes": execution.bytes_scanned},
        }}


def _trino_functions(tree: exp.Expression) -> None:
    """Trino functions sqlglot writes for Athena but does not read back as their DuckDB equivalents."""
    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.lower() == "at_timezone" and len(node.expressions) == 2:
            node.replace(exp.AtTimeZone(this=node.expressions[0], zone=node.expressions[1]))


def _partition_filter(tree: exp.Expression, name: str, column: str) -> exp.Expression | None:
    """The predicate on ``column`` under which a query reads ``name``, as Athena prunes partitions: for each read
    of the table, the conjuncts of its WHERE that use that column only (``dt BETWEEN …``, ``CAST(dt AS VARCHAR)
    IN (…)``); any read without one reads every partition (None)."""
    per_read = []
    for table in tree.find_all(exp.Table):
        if table.name != name:
            continue
        select = table.find_ancestor(exp.Select)
        where = select.args.get("where") if select else None
        if where is None:
            return None
        usable = []
        for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
            columns = list(conjunct.find_all(exp.Column))
            if columns and not conjunct.find(exp.Select) and all(
                    c.name == column and c.table in ("", table.alias_or_name) for c in columns):
                usable.append(conjunct.copy())
        if not usable:
            return None
        per_read.append(exp.and_(*usable))
    return exp.or_(*per_read) if per_read else None


def _pruned(values: list[str], column: str, hive_type: str, predicate: exp.Expression | None) -> set[str]:
    """The partition values the predicate keeps, evaluated by DuckDB on the values themselves."""
    if predicate is None or not values:
        return set(values)
    for node in predicate.find_all(exp.Column):
        node.set("table", None)
    _trino_functions(predicate)
    sql = (f'SELECT v FROM (SELECT v, CAST(v AS {duckdb_type(hive_type)}) AS "{column}" FROM unnest(?) AS t(v)) '
           f"WHERE {predicate.sql('duckdb')}")
    return {row[0] for row in duckdb.execute(sql, [values]).fetchall()}


def _objects(s3, location: str):
    """(key, size, body) of every object under a location, skipping the hidden ``_``/``.`` files Athena skips."""
    bucket, prefix = _split(location)
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            if name.startswith(("_", ".")) or item["Key"].endswith("/"):
                continue
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            yield item["Key"], item["Size"], body


def _text_lines(body: bytes, location: str, key: str) -> pa.Table:
    """One row per line, as Hadoop's line reader splits text (``\\n``, ``\\r\\n`` or ``\\r``); GZIP by suffix."""
    import gzip

    if key.endswith(".gz"):
        body = gzip.decompress(body)
    text = body.decode("utf-8", errors="replace")
    lines = re.split(r"\r\n|\n|\r", text)
    if lines and lines[-1] == "":
        lines.pop()
    bucket = _split(location)[0]
    return pa.table({"line": pa.array(lines, pa.string()),
                     "$path": pa.array([f"s3://{bucket}/{key}"] * len(lines), pa.string())})


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def _partition_text(value) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def _athena_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_integer(arrow_type):
        return "bigint" if arrow_type.bit_width == 64 else "integer"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return "varchar"


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, (date, Decimal, int, float)):
        return str(value)
    return value if isinstance(value, str) else json.dumps(value, default=str)
