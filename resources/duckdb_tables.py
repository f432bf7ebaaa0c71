"""A table's partition files as a relation of a DuckDB connection: a view over the files where they are local, a
pyarrow dataset where they are in S3 (in-memory sealing on the aws profile)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import pyarrow as pa

from resources.catalog import TableDef
from resources.sql import check_identifier
from resources.storage import Storage

if TYPE_CHECKING:
    from resources.engine import QueryStats


# Columns whose few values repeat on every row: a source object's key (~100 bytes) on each of its lines. Where a
# statement names one, it is read as an ENUM of the values the files hold: a day's sort then carries a small integer
# rather than the text (sorting a 1M-event day's clean events: ~150k fewer fresh pages touched, -0.2 to -0.5 CPU-s).
REPEATED_TEXT_COLUMNS = frozenset({"source_object"})


def literal(path: str) -> str:
    """A file path we made ourselves (warehouse + validated names), quoted for DuckDB statements."""
    return "'" + path.replace("'", "''") + "'"


def bind_table(con, storage: Storage, table: TableDef, values: list[str], stats: QueryStats, name: str = "",
               as_enums: Collection[str] = ()) -> None:
    """The files of ``values`` of ``table`` as a view (or registered dataset) ``name``, the table's own name
    unless given; its local files' columns ``as_enums`` (of REPEATED_TEXT_COLUMNS) as ENUMs."""
    name = check_identifier(name or table.name)
    fs = storage.filesystem()
    files, sizes = [], 0
    locations = [table.partition_location(v) for v in values] if table.partition_keys else [table.location]
    for location in locations:
        path = storage.resolve(f"{location.rstrip('/')}/part-0.parquet")
        info = fs.get_file_info(path)
        if info.size is not None and info.type.name == "File":
            files.append(path)
            sizes += info.size
    stats.files_scanned += len(files)
    stats.bytes_scanned += sizes
    column = table.partition_column
    if not files:
        cols = [*table.columns, *table.partition_keys]
        select = ", ".join(f"CAST(NULL AS {c.duckdb_type}) AS {check_identifier(c.name)}" for c in cols)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {select} WHERE false")
        return
    hive_types = {p.name: p.duckdb_type for p in table.partition_keys}
    if not table.partition_keys:
        view = f"SELECT * FROM read_parquet({literal(files[0])})" if storage.local_root else None
        if view:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {view}")
        else:
            import pyarrow.dataset as ds

            con.register(name, ds.dataset(files, filesystem=fs, format="parquet"))
        return
    if storage.local_root:
        listed = ", ".join(literal(f) for f in files)
        types = ", ".join(f"{literal(check_identifier(k))}: {literal(v)}" for k, v in hive_types.items())
        files_read = f"read_parquet([{listed}], hive_partitioning = true, hive_types = {{{types}}})"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT {_as_enums(con, table, name, files_read, as_enums)} "
                    f"FROM {files_read}")
        return
    import pyarrow.dataset as ds

    base = storage.resolve(table.location)
    part_type = pa.date32() if hive_types.get(column) == "DATE" else pa.string()
    dataset = ds.dataset(
        files,
        filesystem=fs,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([(column, part_type)]), flavor="hive"),
        partition_base_dir=base,
    )
    con.register(name, dataset)


def _as_enums(con, table: TableDef, name: str, files_read: str, columns: Collection[str]) -> str:
    """The select list of a view over ``files_read``: every column, ``columns`` as ENUMs of the values the files
    hold, listed sorted so that ordering and comparisons are the text's (the DISTINCT costs ~10 ms over the 30
    files of a 1M-event day)."""
    replaced = []
    for column in (c.name for c in table.columns if c.name in REPEATED_TEXT_COLUMNS & set(columns)):
        enum = check_identifier(f"__{name}_{column}_values")
        con.execute(f"DROP TYPE IF EXISTS {enum}")
        con.execute(f"CREATE TYPE {enum} AS ENUM (SELECT DISTINCT {column} FROM {files_read} "
                    f"WHERE {column} IS NOT NULL ORDER BY {column})")
        replaced.append(f"CAST({column} AS {enum}) AS {column}")
    return f"* REPLACE ({', '.join(replaced)})" if replaced else "*"
