"""Runs the SQL files of ``sql/`` (Athena dialect) and writes partitions whole. DuckDB here, Athena on AWS.

Parameters are named in the SQL (``:first_day``), validated here, and bound by the engine, never pasted in.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pyarrow as pa
from sqlglot import exp

from resources.catalog import Catalog, TableDef, load_ddl
from resources.duckdb_sql import (
    athena_count_if,
    iso8601_without_exceptions,
    json_text,
    parse_json_once,
    referenced_tables,
)
from resources.duckdb_tables import REPEATED_TEXT_COLUMNS, bind_table, literal
from resources.files import remove_tree
from resources.partition_files import PARTITION, ROW_GROUP_ROWS, PartitionFiles
from resources.reads import LocalReads, Reads
from resources.sql import check_identifier, check_params, check_partition_value, parse
from resources.storage import Storage


@functools.lru_cache(maxsize=256)
def _duckdb_statement(sql_file: str, handed_over: frozenset[str], param_names: frozenset[str]
                      ) -> tuple[str, frozenset[str]]:
    """A SQL file as DuckDB runs it, and the tables it reads. Transpiled once per process: a seal ran the same
    statement for every chunk of hours, and transpiling it again (~30 ms alone, 0.1-0.2 s while the reader thread
    split the next chunk's lines under the GIL) left both cores idle between chunks."""
    tree = parse(sql_file, handed_over=handed_over)
    for placeholder in list(tree.find_all(exp.Placeholder)):
        if placeholder.name not in param_names:
            raise ValueError(f"{sql_file} needs parameter :{placeholder.name}")
        placeholder.replace(exp.var(f"${placeholder.name}"))
    athena_count_if(tree)
    parse_json_once(tree)
    json_text(tree)
    iso8601_without_exceptions(tree)
    return tree.sql("duckdb"), frozenset(referenced_tables(tree))


@functools.lru_cache(maxsize=256)
def _columns_named(sql_file: str, handed_over: frozenset[str]) -> frozenset[str]:
    """The column names a statement reads: what a seal's tally keeps of each chunk's rows, and which of
    REPEATED_TEXT_COLUMNS a statement's tables are read with as ENUMs."""
    return frozenset(c.name for c in parse(sql_file, handed_over=handed_over).find_all(exp.Column))


def _whole_numbers(table: pa.Table) -> pa.Table:
    """DuckDB sums and counts can come back as 128-bit decimals; Athena gives bigint. Match Athena."""
    for i, column in enumerate(table.schema):
        if pa.types.is_decimal(column.type) and column.type.scale == 0:
            table = table.set_column(i, column.name, table.column(i).cast(pa.int64()))
    return table


def parquet_compression(table: TableDef) -> tuple[str, int | None]:
    """The codec and ZSTD level a table's DDL asks for (``parquet.compression``, ``compression_level``), checked
    before they reach a statement. Athena reads the same two properties."""
    codec = table.properties.get("parquet.compression", "ZSTD").lower()
    if codec not in ("zstd", "snappy", "gzip", "uncompressed"):
        raise ValueError(f"{table.name}: unsupported parquet.compression {codec}")
    level = table.properties.get("compression_level")
    if level is None:
        return codec, None
    if codec != "zstd" or not level.isdigit() or not 1 <= int(level) <= 22:
        raise ValueError(f"{table.name}: compression_level {level!r} needs ZSTD and a level from 1 to 22")
    return codec, int(level)


@dataclass
class QueryStats:
    engine: str
    seconds: float = 0.0
    bytes_scanned: int = 0
    files_scanned: int = 0
    rows: int = 0
    estimated: bool = True  # local figures come from file sizes, not a bill

    queries: int = 1

    @property
    def cost_usd(self) -> float:
        from resources.pricing import athena_cost

        return athena_cost(self.bytes_scanned, self.queries)

    def as_metadata(self) -> dict:
        # Locally the bytes are the files DuckDB was given, priced as Athena would bill them: an estimate.
        label = " (estimate)" if self.estimated else ""
        return {
            "engine": self.engine,
            "query_seconds": round(self.seconds, 3),
            f"bytes_scanned{label}": dg.MetadataValue.int(self.bytes_scanned),
            f"athena_cost_usd{label}": round(self.cost_usd, 6),
            "files_scanned": self.files_scanned,
        }


@dataclass
class PartitionWrite:
    rows: int
    bytes: int
    uri: str


@dataclass
class WriteResult:
    stats: QueryStats
    partitions: dict[str, PartitionWrite] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions.values())

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.partitions.values())


# What a local reading holds in a table rather than reading where it lies: files this small on average, this much
# in all (a table well inside the engine's memory limit).
HOLD_FILE_BYTES = 1024 * 1024
HOLD_BYTES = 128 * 1024 * 1024


class Engine(dg.ConfigurableResource, ABC):
    """Runs a SQL file from ``sql/`` and reports what it cost."""

    # True where the engine reads raw objects where they lie (Athena); else sealing splits lines in memory.
    seals_in_place: ClassVar[bool] = False

    @abstractmethod
    def query(
        self,
        sql_file: str,
        params: Mapping[str, object],
        partitions: Mapping[str, Sequence[str]] | None = None,
        inputs: Mapping[str, pa.Table] | None = None,
    ) -> tuple[pa.Table, QueryStats]:
        """Small results (counts, checks, previews) as an Arrow table."""

    @abstractmethod
    def materialize(
        self,
        sql_file: str,
        params: Mapping[str, object],
        target: str,
        partition_values: Sequence[str],
        partitions: Mapping[str, Sequence[str]] | None = None,
        inputs: Mapping[str, pa.Table] | None = None,
    ) -> WriteResult:
        """Replace each of ``partition_values`` of ``target`` whole with the query's rows (the catalog's
        ``glue/…`` assets register them).

        Every requested partition is written, empty or not, so a re-run never leaves an old version behind; a row
        for a partition that was not requested is an error, so nothing is silently dropped.
        """

    def materialize_tallied(self, sql_file: str, params: Mapping[str, object], target: str,
                            partition_values: Sequence[str], tally: str,
                            inputs: Mapping[str, pa.Table] | None = None,
                            side_by_side: int = 1) -> tuple[WriteResult, pa.Table]:
        """``materialize``, then the query ``tally`` (a SQL file reading ``target``) over the partitions written.
        ``side_by_side``: how many such statements the caller runs at once; where the engine has a say over its
        threads (locally), each gets its share of them rather than all."""
        written = self.materialize(sql_file, params, target, partition_values, inputs=inputs)
        counts, _ = self.query(tally, {}, partitions={target: list(partition_values)})
        return written, counts

    @abstractmethod
    def data_files(self, target: str, values: Sequence[str]) -> dict[str, list[str]]:
        """The files (paths in the storage's filesystem) holding each partition of ``target`` now: the engine owns
        the layout, so callers never guess file names."""

    @contextmanager
    def reading(self, partitions: Mapping[str, Sequence[str]]) -> Iterator[Reads]:
        """Several statements over the same partitions of the same tables (``partitions``), as ``query`` and
        ``materialize`` with those partitions. Here each statement reads them where they lie (Athena scans S3 in
        parallel and bills the bytes each statement reads, whoever holds them); the local engine reads them once."""
        yield Reads(self, partitions)


class DuckDBEngine(Engine):
    """Local twin: transpiles the Athena SQL with sqlglot and runs it in DuckDB over the catalog's files."""

    storage: Storage
    catalog: Catalog
    threads: int = 2
    # DuckDB spills past these to <warehouse>/tmp, so a 5M-event day stays under 2 GB of RAM. Models, checks and
    # dashboard queries get 1750MB: at 1 GB the sessions' million groups did not fit DuckDB's reservation for a hash
    # aggregate, which partitioned them again (~1.5 CPU-s of 8). A statement that streams a day's raw or staged rows
    # beside DuckDB (a seal's chunks, two at once; a build's reading, whose clean events are sorted) gets 1 GB: its
    # sort fills whatever it is given, and at 1750MB raw -> clean over 5M events peaked at 2.4 GB.
    memory_limit: str = "1750MB"
    streaming_memory_limit: str = "1GB"
    # Off when this engine writes for Athena's (in-memory sealing): Athena then switches Glue's partitions itself.
    registers_writes: bool = True

    def _connect(self, memory_limit: str | None = None, threads: int | None = None):
        import duckdb

        con = duckdb.connect(config={"threads": threads or self.threads, "memory_limit": memory_limit or self.memory_limit})
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = true")
        # A run's stderr is a log, not a terminal: the bar of a query past 2 s only filled it with redraws.
        con.execute("SET enable_progress_bar = false")
        root = self.storage.local_root
        spill = os.path.join(root, "tmp", "duckdb") if root else tempfile.gettempdir()
        os.makedirs(spill, exist_ok=True)
        con.execute(f"SET temp_directory = {literal(spill)}")
        return con

    def _scratch(self) -> str:
        root = self.storage.local_root
        path = os.path.join(root, "tmp") if root else tempfile.gettempdir()
        os.makedirs(path, exist_ok=True)
        return path

    def _prepare(self, con, sql_file, params, partitions, inputs, ready=(),
                 held: Mapping[str, QueryStats] | None = None) -> tuple[str, dict, QueryStats]:
        """The statement for DuckDB, its bound parameters, and the files it reads bound on ``con``. Tables in
        ``ready`` or ``held`` are already on ``con``: a held table counts the files it was read from as scanned
        again, as Athena would bill them."""
        held = held or {}
        ready = set(ready) | set(held)
        checked = check_params(params)
        handed_over = frozenset(set(inputs or {}) | ready)
        sql, referenced = _duckdb_statement(sql_file, handed_over, frozenset(checked))
        as_enums = REPEATED_TEXT_COLUMNS & _columns_named(sql_file, handed_over)
        stats = QueryStats(engine="duckdb")
        for name in sorted(referenced & set(held)):
            stats.files_scanned += held[name].files_scanned
            stats.bytes_scanned += held[name].bytes_scanned
        for name in sorted(referenced - ready):
            if inputs and name in inputs:
                con.register(name, inputs[name])
                stats.bytes_scanned += inputs[name].nbytes
                continue
            if partitions and name in partitions:
                bind_table(con, self.storage, self.table_def(name), list(partitions[name]), stats, as_enums=as_enums)
                continue
            table = self.catalog.table(name)
            if table is None:
                raise LookupError(f"table {name} is not in the catalog: materialize glue/{name} first")
            bind_table(con, self.storage, table, self.catalog.partitions(name), stats, as_enums=as_enums)
        used = {p for p in checked if f"${p}" in sql}
        return sql, {k: v for k, v in checked.items() if k in used}, stats

    def table_def(self, name: str) -> TableDef:
        """The table as its DDL defines it, located in this profile's buckets."""
        return load_ddl(name, self.storage.ddl_locations())

    def data_files(self, target, values):
        table, fs = self.table_def(target), self.storage.filesystem()
        found = {}
        for value in values if table.partition_column else ["all"]:
            location = table.location if value == "all" else table.partition_location(value)
            path = self.storage.resolve(f"{location.rstrip('/')}/part-0.parquet")
            found[value] = [path] if fs.get_file_info(path).type.name == "File" else []
        return found

    @contextmanager
    def _connection(self, shared=None, memory_limit: str | None = None, threads: int | None = None) -> Iterator:
        """``shared`` (a reading's connection) as it is, else a connection of its own, closed after."""
        if shared is not None:
            yield shared
            return
        con = self._connect(memory_limit, threads)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def reading(self, partitions):
        """Many small files (the arrival hours of a half-year: 3,604 files of ~12 KB) are read once, into tables of
        one connection that every statement of the reading runs on: opening them cost ~1 s a read, and a build of
        days read them five times. Larger files are read by each statement where they lie: a table of 5M staged
        events spilled to disk and doubled the build (29 s against 15 s), and opening 30 files costs nothing."""
        with self._connection(memory_limit=self.streaming_memory_limit) as con:
            held = {}
            for name, values in partitions.items():
                held[name] = QueryStats(engine="duckdb")
                bind_table(con, self.storage, self.table_def(name), list(values), held[name], name=f"__files_{name}")
            files = sum(s.files_scanned for s in held.values())
            size = sum(s.bytes_scanned for s in held.values())
            if not files or size > HOLD_BYTES or size / files > HOLD_FILE_BYTES:
                # Each statement reads the files on a connection of its own, under the same budget.
                yield LocalReads(self, partitions, None, held={})
                return
            # Order is the statements' business (each sorts what it writes); not keeping the files' order reads
            # them on both threads.
            con.execute("SET preserve_insertion_order = false")
            for name in held:
                con.execute(f"CREATE TEMP TABLE {check_identifier(name)} AS SELECT * FROM __files_{name}")
            con.execute("SET preserve_insertion_order = true")
            yield LocalReads(self, partitions, con, held)

    def query(self, sql_file, params, partitions=None, inputs=None, shared=None, held=None, memory_limit=None):
        started = time.perf_counter()
        with self._connection(shared, memory_limit) as con:
            sql, bound, stats = self._prepare(con, sql_file, params, partitions, inputs, held=held)
            table = _whole_numbers(con.sql(sql, params=bound).to_arrow_table())
        stats.seconds = time.perf_counter() - started
        stats.rows = table.num_rows
        return table, stats

    def materialize(self, sql_file, params, target, partition_values, partitions=None, inputs=None):
        return self._materialize(sql_file, params, target, partition_values, partitions, inputs)[0]

    def materialize_tallied(self, sql_file, params, target, partition_values, tally, inputs=None, side_by_side=1):
        """The tally runs over the rows in memory, before they are written: no second read of what was written."""
        return self._materialize(sql_file, params, target, partition_values, None, inputs, tally,
                                 memory_limit=self.streaming_memory_limit,
                                 threads=max(1, self.threads // max(1, side_by_side)))

    def _materialize(self, sql_file, params, target, partition_values, partitions, inputs, tally=None, shared=None,
                     held=None, memory_limit=None, threads=None):
        started = time.perf_counter()
        table = self.table_def(target)
        whole = not table.partition_column
        values = ["all"] if whole else [check_partition_value(v) for v in partition_values]
        # An unpartitioned table is one "partition": the whole table, replaced at once.
        column = "'all'" if whole else table.partition_column
        select = ", ".join(f"CAST({check_identifier(c.name)} AS {c.duckdb_type}) AS {c.name}" for c in table.columns)
        result = WriteResult(QueryStats(engine="duckdb"))
        scratch, tallied, files = None, None, None
        # A reading's connection goes on to its next statement; one of our own is closed after.
        with self._connection(shared, memory_limit, threads) as con:
            try:
                sql, bound, stats = self._prepare(con, sql_file, params, partitions, inputs, held=held)
                scratch = tempfile.mkdtemp(prefix=f".{target}-", dir=self._scratch())
                reader = con.sql(f"SELECT {select}, CAST({column} AS VARCHAR) AS {PARTITION} FROM ({sql}) AS __result",
                                 params=bound).to_arrow_reader(ROW_GROUP_ROWS)
                schema = pa.schema([f for f in reader.schema if f.name != PARTITION])
                files = PartitionFiles(schema, scratch, *parquet_compression(table))
                # What the tally reads is kept from the rows as they pass, and only that: a seal chunk's few columns.
                read_by_tally = _columns_named(tally, frozenset({target})) if tally else frozenset()
                kept = files.write(reader, keep=[c for c in schema.names if c in read_by_tally] if tally else None)
                written = files.close(values)
                stray = sorted(set(written) - set(values), key=str)
                if stray:
                    raise RuntimeError(
                        f"{sql_file} returned rows for {target} partitions {stray[:5]} outside the ones being written "
                        f"({values[0]}..{values[-1]}): refusing to drop them"
                    )
                if tally:
                    # The partition column as text (the tally of a seal reads its arrival hours).
                    passed = pa.Table.from_batches(kept) if kept else pa.schema(
                        [f for f in reader.schema if f.name in read_by_tally or f.name == PARTITION]).empty_table()
                    con.register(check_identifier(target), passed.rename_columns([*passed.schema.names[:-1], column]))
                    tally_sql, tally_bound, _ = self._prepare(con, tally, {}, None, None, ready={target})
                    tallied = _whole_numbers(con.sql(tally_sql, params=tally_bound).to_arrow_table())
                moves = {}
                for value in values:
                    location = table.location.rstrip("/") if whole else table.partition_location(value)
                    uri = f"{location}/part-0.parquet"
                    path, rows = written[value]
                    moves[uri] = path
                    result.partitions[value] = PartitionWrite(rows, Path(path).stat().st_size, uri)
                self.storage.put_files(moves)
                # Written whole, now visible: the table and its new partitions go into the catalog, as Athena's writes
                # switch Glue's. Queries that name no partitions read the ones registered.
                if self.registers_writes:
                    self.catalog.ensure_table(table)
                    if not whole:
                        self.catalog.add_partitions(target, values)
                stats.rows = result.rows
            finally:
                if files is not None:
                    files.abort()
                if scratch:
                    remove_tree(scratch)
        stats.seconds = time.perf_counter() - started
        result.stats = stats
        return result, tallied
