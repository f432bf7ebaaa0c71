"""The table catalog: Glue on AWS, a JSON file in the warehouse locally. Tables come from ``sql/ddl/`` files.

Partition registration goes through :meth:`Catalog.add_partitions` on both twins.
"""

from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dagster as dg
import sqlglot
from sqlglot import exp

from resources.files import file_lock, write_text_durably

# SQL_ROOT and the checks are re-exported: modules written before resources/sql.py import them from here.
from resources.sql import SQL_ROOT, check_identifier, check_partition_value, load_sql  # noqa: F401


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
    serde_properties: dict[str, str] = field(default_factory=dict)

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
    columns, partitions, location, file_format, description, serde, props, serde_props = _ddl(
        name, load_sql(f"ddl/{check_identifier(name)}.sql"))
    return TableDef(name, list(columns), list(partitions), location.format(**locations), file_format, description,
                    serde, dict(props), dict(serde_props))


@functools.lru_cache(maxsize=128)
def _ddl(name: str, text: str) -> tuple:
    """What a DDL text defines, parsed once per text: sqlglot took ~20 ms a parse, and a build of days looks its
    tables up dozens of times. Keyed by the text, so an edited file is parsed again."""
    description = " ".join(
        line[2:].strip() for line in text.splitlines() if line.startswith("--")
    )
    create = sqlglot.parse_one(text, read="athena")
    if not isinstance(create, exp.Create) or create.this.this.name != name:
        raise ValueError(f"sql/ddl/{name}.sql must create table {name}")
    columns = tuple(_column(c) for c in create.this.expressions)
    partitions: tuple[Column, ...] = ()
    location, file_format, serde, props, serde_props = "", "parquet", None, {}, {}
    for prop in create.args["properties"].expressions:
        if isinstance(prop, exp.PartitionedByProperty):
            partitions = tuple(_column(c) for c in prop.this.expressions)
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif isinstance(prop, exp.FileFormatProperty):
            file_format = "parquet" if prop.this.name.upper() == "PARQUET" else "json"
        elif isinstance(prop, exp.RowFormatSerdeProperty):
            serde = prop.this.name
            if prop.args.get("serde_properties"):
                serde_props = {p.name: p.args["value"].name for p in prop.args["serde_properties"].expressions}
        elif type(prop) is exp.Property:
            props[prop.name] = prop.args["value"].name
    return columns, partitions, location, file_format, description, serde, props, serde_props


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
        with file_lock(str(self._path.parent / ".lock")):
            yield self._read()

    def _read(self) -> dict:
        if not self._path.exists():
            return {"tables": {}}
        return json.loads(self._path.read_text())

    def _write(self, data: dict) -> None:
        write_text_durably(self._path, json.dumps(data, indent=1, sort_keys=True))

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


GLUE_BATCH = 100  # BatchCreatePartition takes at most 100 partitions a call
PREVIOUS = "previous_location"  # the version a swap replaced, kept for queries already reading it
SERDES = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    ),
    "json": (
        "org.openx.data.jsonserde.JsonSerDe",
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    ),
}


class GlueCatalog(Catalog):
    """AWS twin: the Glue Data Catalog. Tables from the same DDL files; partitions by BatchCreatePartition.

    Explicit partitions rather than partition projection: the pipeline knows exactly which hours and days it
    wrote, registration is one cheap call per 100 partitions, and Athena then never lists prefixes that hold
    nothing (projection would make every query over a range enumerate empty hours).
    """

    database: str
    region: str | None = None
    endpoint_url: str | None = None

    def _glue(self):
        from resources.aws import client

        return client("glue", self.region, self.endpoint_url)

    def _storage_descriptor(self, table: TableDef, location: str | None = None) -> dict:
        serde, input_format, output_format = SERDES[table.format]
        serde = table.serde or serde
        params = {"serialization.format": "1", **table.serde_properties}
        if table.format == "json":
            params["ignore.malformed.json"] = "true"
        return {
            "Columns": [{"Name": c.name, "Type": c.hive_type} for c in table.columns],
            "Location": (location or table.location).rstrip("/") + "/",
            "InputFormat": input_format,
            "OutputFormat": output_format,
            "SerdeInfo": {"SerializationLibrary": serde, "Parameters": params},
        }

    def _table_input(self, table: TableDef) -> dict:
        return {
            "Name": table.name,
            "Description": table.description[:2048],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"EXTERNAL": "TRUE", "classification": table.format, **table.properties},
            "PartitionKeys": [{"Name": c.name, "Type": c.hive_type} for c in table.partition_keys],
            "StorageDescriptor": self._storage_descriptor(table),
        }

    def ensure_table(self, table: TableDef) -> bool:
        glue = self._glue()
        wanted = self._table_input(table)
        try:
            current = glue.get_table(DatabaseName=self.database, Name=table.name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=self.database, TableInput=wanted)
            return True
        location = current.get("StorageDescriptor", {}).get("Location", "")
        if not table.partition_keys and location.startswith(wanted["StorageDescriptor"]["Location"]):
            # A whole table's data lives in the version prefix the engine last switched it to: keep it.
            wanted["StorageDescriptor"]["Location"] = location
        same = (
            current.get("StorageDescriptor", {}).get("Columns") == wanted["StorageDescriptor"]["Columns"]
            and location == wanted["StorageDescriptor"]["Location"]
            and current.get("PartitionKeys", []) == wanted["PartitionKeys"]
        )
        if not same:
            glue.update_table(DatabaseName=self.database, TableInput=wanted)
        return not same

    def table(self, name: str) -> TableDef | None:
        glue = self._glue()
        try:
            found = glue.get_table(DatabaseName=self.database, Name=check_identifier(name))["Table"]
        except glue.exceptions.EntityNotFoundException:
            return None
        sd = found["StorageDescriptor"]
        library = sd["SerdeInfo"].get("SerializationLibrary", "")
        fmt = "parquet" if "Parquet" in library else "json"  # JSON and whole-line text: Firehose's folders

        def cols(items):
            return [Column(c["Name"], c["Type"], duckdb_type(c["Type"])) for c in items]

        serde_properties = {k: v for k, v in sd["SerdeInfo"].get("Parameters", {}).items()
                            if k != "serialization.format"}
        return TableDef(name, cols(sd["Columns"]), cols(found.get("PartitionKeys", [])), sd["Location"], fmt,
                        found.get("Description", ""), serde=library or None, properties={
                            k: v for k, v in found.get("Parameters", {}).items() if k.startswith("parquet.")},
                        serde_properties=serde_properties)

    def add_partitions(self, name: str, values: list[str]) -> int:
        table = self.table(name)
        if table is None:
            raise KeyError(f"table {name} is not in Glue database {self.database}: materialize glue/{name} first")
        values = sorted(set(check_partition_value(v) for v in values))
        return self._create_partitions(table, {v: table.partition_location(v) for v in values})

    def _create_partitions(self, table: TableDef, locations: dict[str, str]) -> int:
        """Register partitions at the given locations; ones already registered keep theirs. Returns how many
        were new."""
        glue, new, values = self._glue(), 0, sorted(locations)
        for start in range(0, len(values), GLUE_BATCH):
            batch = values[start : start + GLUE_BATCH]
            response = glue.batch_create_partition(
                DatabaseName=self.database,
                TableName=table.name,
                PartitionInputList=[
                    {"Values": [v], "StorageDescriptor": self._storage_descriptor(table, locations[v])}
                    for v in batch
                ],
            )
            errors = response.get("Errors", [])
            unexpected = [e for e in errors if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
            if unexpected:
                detail = unexpected[0]["ErrorDetail"]
                raise RuntimeError(
                    f"Glue refused {len(unexpected)} partitions of {table.name}: {detail['ErrorCode']}: "
                    f"{detail.get('ErrorMessage', '')}"
                )
            new += len(batch) - len(errors)
        return new

    def _registered(self, name: str, values: list[str]) -> dict[str, dict]:
        glue, found = self._glue(), {}
        values = sorted({check_partition_value(v) for v in values})
        for start in range(0, len(values), GLUE_BATCH):
            batch = [{"Values": [v]} for v in values[start : start + GLUE_BATCH]]
            response = glue.batch_get_partition(DatabaseName=self.database, TableName=check_identifier(name),
                                                PartitionsToGet=batch)
            for partition in response["Partitions"]:
                found[partition["Values"][0]] = partition
        return found

    def locations(self, name: str, values: list[str]) -> dict[str, str]:
        """Where each registered partition of ``values`` lives (partitions not registered are left out)."""
        return {v: p["StorageDescriptor"]["Location"].rstrip("/") for v, p in self._registered(name, values).items()}

    def swap_partitions(self, table: TableDef, locations: dict[str, str]) -> list[str]:
        """Point each partition at its new location (creating the table and the partitions not yet there).

        The version being replaced stays as the partition's ``previous_location``, so a query that planned on it a
        moment ago still finds its files; the one before it is returned, for the caller to delete. One Glue call
        per 100 partitions each way; each partition switches whole.
        """
        self.ensure_table(table)
        current = self._registered(table.name, list(locations))
        glue, retired = self._glue(), []
        moved = [v for v in sorted(locations) if v in current]
        for start in range(0, len(moved), GLUE_BATCH):
            entries = []
            for v in moved[start : start + GLUE_BATCH]:
                previous = current[v]["StorageDescriptor"]["Location"].rstrip("/")
                retired.append(current[v].get("Parameters", {}).get(PREVIOUS, ""))
                entries.append({"PartitionValueList": [v], "PartitionInput": {
                    "Values": [v], "StorageDescriptor": self._storage_descriptor(table, locations[v]),
                    "Parameters": {PREVIOUS: previous}}})
            errors = glue.batch_update_partition(DatabaseName=self.database, TableName=table.name,
                                                 Entries=entries).get("Errors", [])
            if errors:
                detail = errors[0]["ErrorDetail"]
                raise RuntimeError(f"Glue refused to move {len(errors)} partitions of {table.name}: "
                                   f"{detail.get('ErrorCode')}: {detail.get('ErrorMessage', '')}")
        self._create_partitions(table, {v: loc for v, loc in locations.items() if v not in current})
        return [r for r in retired if r]

    def swap_location(self, table: TableDef, location: str) -> list[str]:
        """Point a whole (unpartitioned) table at a new location, keeping the replaced one as its
        ``previous_location``; returns the version before that, to delete."""
        self.ensure_table(table)
        glue = self._glue()
        current = glue.get_table(DatabaseName=self.database, Name=table.name)["Table"]
        wanted = self._table_input(table)
        wanted["StorageDescriptor"] = self._storage_descriptor(table, location)
        wanted["Parameters"][PREVIOUS] = current["StorageDescriptor"]["Location"].rstrip("/")
        glue.update_table(DatabaseName=self.database, TableInput=wanted)
        retired = current.get("Parameters", {}).get(PREVIOUS)
        return [retired] if retired else []

    def partitions(self, name: str) -> list[str]:
        """The table's registered partition values; none for a table not created yet (as locally)."""
        glue = self._glue()
        found = []
        try:
            for page in glue.get_paginator("get_partitions").paginate(DatabaseName=self.database, TableName=name):
                found.extend(p["Values"][0] for p in page["Partitions"])
        except glue.exceptions.EntityNotFoundException:
            return []
        return sorted(found)


def duckdb_type(hive_type: str) -> str:
    """A Glue column type as DuckDB spells it (``string`` is ``VARCHAR``)."""
    return sqlglot.parse_one(f"CAST(x AS {hive_type})", read="hive").to.sql("duckdb")
