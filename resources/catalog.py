"""The table catalog: Glue on AWS, a JSON file in the warehouse locally. Tables come from ``sql/ddl/`` files.

Partition registration goes through :meth:`Catalog.add_partitions` on both twins.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dagster as dg
import sqlglot
from sqlglot import exp

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
PARTITION_VALUE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-[0-9]{2})?$")


def check_identifier(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a valid table or column name")
    return name


def check_partition_value(value: str) -> str:
    if not PARTITION_VALUE.match(value):
        raise ValueError(f"{value!r} is not a partition value like 2026-11-01 or 2026-11-01-13")
    return value


@dataclass(frozen=True)
class Column:
    name: str
    hive_type: str  # as Glue stores it: string, bigint, timestamp …
    duckdb_type: str


@dataclass
class TableDef:
    name: str
    columns: list[Column]
    partition_keys: list[Column]
    location: str  # with {raw}/{processed} resolved
    format: str  # parquet | json
    description: str = ""
    serde: str | None = None
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def partition_column(self) -> str | None:
        return self.partition_keys[0].name if self.partition_keys else None

    def partition_location(self, value: str) -> str:
        """Hive layout for processed tables; Firehose's YYYY/MM/DD/HH folders for raw JSON."""
        check_partition_value(value)
        if self.format == "json":
            y, m, d, h = value.split("-")
            return f"{self.location.rstrip('/')}/{y}/{m}/{d}/{h}"
        return f"{self.location.rstrip('/')}/{self.partition_column}={value}"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TableDef:
        data = dict(data)
        data["columns"] = [Column(**c) for c in data["columns"]]
        data["partition_keys"] = [Column(**c) for c in data["partition_keys"]]
        return cls(**data)


def _column(definition: exp.ColumnDef) -> Column:
    kind = definition.args["kind"]
    return Column(check_identifier(definition.name), kind.sql("hive").lower(), kind.sql("duckdb"))


def load_ddl(name: str, locations: dict[str, str]) -> TableDef:
    """Parse ``sql/ddl/<name>.sql`` (Athena DDL) into a table definition, resolving ``{raw}``/``{processed}``."""
    text = (SQL_ROOT / "ddl" / f"{check_identifier(name)}.sql").read_text()
    description = " ".join(
        line[2:].strip() for line in text.splitlines() if line.startswith("--")
    )
    create = sqlglot.parse_one(text, read="athena")
    if not isinstance(create, exp.Create) or create.this.this.name != name:
        raise ValueError(f"sql/ddl/{name}.sql must create table {name}")
    columns = [_column(c) for c in create.this.expressions]
    partitions: list[Column] = []
    location, file_format, serde, props = "", "parquet", None, {}
    for prop in create.args["properties"].expressions:
        if isinstance(prop, exp.PartitionedByProperty):
            partitions = [_column(c) for c in prop.this.expressions]
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name.format(**locations)
        elif isinstance(prop, exp.FileFormatProperty):
            file_format = "parquet" if prop.this.name.upper() == "PARQUET" else "json"
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = prop.this.name
        elif type(prop) is exp.Property:
            props[prop.name] = prop.args["value"].name
    return TableDef(name, columns, partitions, location, file_format, description, serde, props)


class Catalog(dg.ConfigurableResource, ABC):
    """Creates tables from DDL and registers their partitions."""

    @abstractmethod
    def ensure_table(self, table: TableDef) -> bool:
        """Create the table, or update it to this definition; True when it changed."""

    @abstractmethod
    def table(self, name: str) -> TableDef | None: ...

    @abstractmethod
    def add_partitions(self, name: str, values: list[str]) -> int:
        """Register partitions (existing ones are fine); returns how many were new."""

    @abstractmethod
    def partitions(self, name: str) -> list[str]: ...


class LocalCatalog(Catalog):
    """Local twin of Glue: ``<warehouse>/catalog/catalog.json``, written atomically under a file lock."""

    warehouse: str

    @property
    def _path(self) -> Path:
        return Path(self.warehouse) / "catalog" / "catalog.json"

    @contextmanager
    def _locked(self):
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path.parent / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self._read()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict:
        if not self._path.exists():
            return {"tables": {}}
        return json.loads(self._path.read_text())

    def _write(self, data: dict) -> None:
        tmp = self._path.with_name(f".catalog.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, self._path)

    def ensure_table(self, table: TableDef) -> bool:
        with self._locked() as data:
            current = data["tables"].get(table.name)
            definition = table.as_dict()
            if current and current["definition"] == definition:
                return False
            data["tables"][table.name] = {
                "definition": definition,
                "partitions": current["partitions"] if current else [],
            }
            self._write(data)
            return True

    def table(self, name: str) -> TableDef | None:
        entry = self._read()["tables"].get(name)
        return TableDef.from_dict(entry["definition"]) if entry else None

    def add_partitions(self, name: str, values: list[str]) -> int:
        for value in values:
            check_partition_value(value)
        with self._locked() as data:
            if name not in data["tables"]:
                raise KeyError(f"table {name} is not in the catalog: materialize glue/{name} first")
            existing = set(data["tables"][name]["partitions"])
            new = sorted(set(values) - existing)
            if new:
                data["tables"][name]["partitions"] = sorted(existing | set(new))
                self._write(data)
            return len(new)

    def partitions(self, name: str) -> list[str]:
        entry = self._read()["tables"].get(name)
        return list(entry["partitions"]) if entry else []
