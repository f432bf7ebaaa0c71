"""Column lineage: derived from each model's SQL by sqlglot, so the UI shows which raw fields feed every
dataset column. Catalog tables and datasets pass their columns through unchanged."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import dagster as dg
from sqlglot import exp
from sqlglot.lineage import lineage

from resources.catalog import load_ddl
from resources.sql import SQL_ROOT, parse

_LOCATIONS = {"raw": "s3://raw", "processed": "s3://processed", "raw_events": "s3://raw/events/"}  # lineage needs columns, not places


def _columns(table: str) -> list[str]:
    ddl = load_ddl(table, _LOCATIONS)
    return [c.name for c in ddl.columns + ddl.partition_keys]


# The lineage sqlglot derives, shipped beside this module and keyed by a digest of the SQL it came from: deriving it
# took ~1 s at every process start (the demo, each CLI command, the code server). Edited SQL has another digest and
# is derived afresh; tests/test_beyond.py keeps the file current (python -m clickstream_assets.lineage writes it).
SHIPPED = Path(__file__).with_name("lineage.json")


def sql_digest() -> str:
    """A digest of every file the lineage reads: the models, the views they inline, the tables' DDL."""
    digest = hashlib.sha256()
    for path in sorted(SQL_ROOT.glob("*/*.sql")):
        if path.parent.name in ("models", "views", "ddl"):
            digest.update(f"{path.parent.name}/{path.name}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()


@cache
def _shipped() -> dict:
    try:
        shipped = json.loads(SHIPPED.read_text())
    except (OSError, ValueError):
        return {}
    return shipped["models"] if shipped.get("sql_digest") == sql_digest() else {}


@cache
def model_lineage(model: str, reads: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    """Output column -> [(table read, column)] for ``sql/models/<model>.sql``."""
    shipped = _shipped().get(model)
    if shipped is not None and shipped["reads"] == list(reads):
        return {column: [tuple(source) for source in sources] for column, sources in shipped["columns"].items()}
    return derive_lineage(model, reads)


def derive_lineage(model: str, reads: tuple[str, ...]) -> dict[str, list[tuple[str, str]]]:
    schema = {t: {c: "string" for c in _columns(t)} for t in reads}
    # Every output column in one walk: sqlglot qualifies the query once and shares the work between columns (one
    # call per column re-qualified the whole query each time, ~2 s for the models at every process start).
    nodes = lineage(None, parse(f"models/{model}.sql"), schema=schema, dialect="athena")
    found: dict[str, list[tuple[str, str]]] = {}
    for column in _columns(model):
        node = nodes[column]
        sources = set()
        for step in node.walk():
            if not step.downstream and isinstance(step.source, exp.Table) and "." in step.name:
                table, name = step.name.rsplit(".", 1)
                if table in reads:
                    sources.add((table, name))
        found[column] = sorted(sources)
    return found


def table_schema(table: str) -> dg.TableSchema:
    ddl = load_ddl(table, _LOCATIONS)
    return dg.TableSchema(columns=[dg.TableColumn(c.name, c.hive_type) for c in ddl.columns + ddl.partition_keys])


def described(table: str, column_lineage: dg.TableColumnLineage) -> dict:
    """A table's columns and where each comes from, as the asset's definition metadata: known from its SQL before
    any run, shown on the asset's page whatever was materialized last."""
    return {"dagster/column_schema": table_schema(table), "dagster/column_lineage": column_lineage}


def derived(model: str, reads: list[str]) -> dg.TableColumnLineage:
    return dg.TableColumnLineage(deps_by_column={
        column: [dg.TableColumnDep(asset_key=dg.AssetKey(["processed", t]), column_name=c) for t, c in sources]
        for column, sources in model_lineage(model, tuple(reads)).items()
    })


def passthrough(table: str, upstream: dg.AssetKey) -> dg.TableColumnLineage:
    return dg.TableColumnLineage(deps_by_column={
        c: [dg.TableColumnDep(asset_key=upstream, column_name=c)] for c in _columns(table)
    })


def clean_events_lineage() -> dg.TableColumnLineage:
    """Each clean column is the raw JSON field of the same name (``timestamp`` becomes ``event_ts``)."""
    raw = set(_columns("raw_events"))
    deps = {}
    for column in _columns("events"):
        field = "timestamp" if column == "event_ts" else column
        if field in raw:
            deps[column] = [dg.TableColumnDep(asset_key=dg.AssetKey(["raw", "events"]), column_name=field)]
    deps["dt"] = [dg.TableColumnDep(asset_key=dg.AssetKey(["raw", "events"]), column_name="timestamp")]
    return dg.TableColumnLineage(deps_by_column=deps)


def write_shipped() -> None:
    """Derive every model's lineage and write it beside this module, with the digest of the SQL it came from."""
    from clickstream_assets.defs.processed.models import MODELS

    models = {m.name: {"reads": list(m.reads), "columns": derive_lineage(m.name, tuple(m.reads))} for m in MODELS}
    SHIPPED.write_text(json.dumps({"sql_digest": sql_digest(), "models": models}, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_shipped()
