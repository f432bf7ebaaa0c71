"""``glue/…``: one asset per table, defined by its DDL in ``sql/ddl/``.

A processed table's partitions are registered by the write that makes them (the engine switches or adds them as
it writes, so a partition is visible once whole), so its catalog asset is the table's definition, not partitioned:
a half-year backfill would otherwise record every table's every day twice in Dagster's event log. The raw tables
register the hours sealing took."""


from collections.abc import Sequence

import dagster as dg

from clickstream_assets import automation
from clickstream_assets.ledger import read_manifests
from clickstream_assets.lineage import passthrough
from resources.catalog import Catalog, load_ddl
from resources.storage import Storage


def _locations(storage: Storage) -> dict[str, str]:
    return storage.ddl_locations()


def register(catalog: Catalog, storage: Storage, tables: Sequence[str], values: Sequence[str]) -> dict:
    """Create or update each table from its DDL, then register the partitions written for it."""
    metadata: dict = {}
    for name in tables:
        table = load_ddl(name, _locations(storage))
        changed = catalog.ensure_table(table)
        new = catalog.add_partitions(name, list(values)) if table.partition_keys else 0
        metadata[f"{name}_location"] = table.location
        metadata[f"{name}_definition_changed"] = changed
        metadata[f"{name}_partitions_added"] = new
        metadata[f"{name}_columns"] = dg.TableSchema(
            columns=[dg.TableColumn(c.name, c.hive_type) for c in table.columns + table.partition_keys]
        )
    return metadata


@dg.asset(
    key=["glue", "raw_events"],
    group_name="glue",
    kinds={"glue"},
    deps=[dg.AssetDep(["raw", "events"])],
    automation_condition=automation.over_days(),
)
def glue_raw_events(catalog: Catalog, storage: Storage) -> dg.MaterializeResult:
    """Catalog tables over the raw layer: ``raw_events`` (the JSON as delivered, for ad-hoc queries) and
    ``staged_events`` (every line classified), with one partition per sealed arrival hour. Sealing registers the
    staged hours as it writes them; this adds the raw hours not registered yet."""
    hours = sorted(set(read_manifests(storage)) - set(catalog.partitions("raw_events")))
    metadata = {**register(catalog, storage, ["raw_events"], hours), **register(catalog, storage, ["staged_events"], [])}
    metadata["dagster/column_schema"] = metadata["raw_events_columns"]
    return dg.MaterializeResult(metadata=metadata)


def table_asset(table: str, upstream: list[str], description: str, over_days: bool = True) -> dg.AssetsDefinition:
    """The catalog table of a processed dataset: its DDL, kept in step with ``sql/ddl/`` (its partitions are
    registered by the writes). ``over_days``: the upstream is daily, so rebuild after any day changes."""

    @dg.asset(
        name=table,
        key_prefix=["glue"],
        group_name="glue",
        kinds={"glue"},
        deps=[dg.AssetDep(upstream)],
        automation_condition=automation.over_days() if over_days else dg.AutomationCondition.eager(),
        description=description,
    )
    def _table(catalog: Catalog, storage: Storage) -> dg.MaterializeResult:
        metadata = register(catalog, storage, [table], [])
        metadata[f"{table}_partitions"] = len(catalog.partitions(table))
        metadata["dagster/column_lineage"] = passthrough(table, dg.AssetKey(upstream))
        metadata["dagster/column_schema"] = metadata[f"{table}_columns"]
        return dg.MaterializeResult(metadata=metadata)

    return _table


glue_events = table_asset(
    "events", ["processed", "events"], "Catalog table of the clean events (Parquet, partitioned by dt)."
)
glue_quarantine = table_asset(
    "quarantine", ["processed", "quarantine"], "Catalog table of quarantined lines with their reason codes."
)
