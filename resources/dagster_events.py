"""Dagster's per-partition events stored in bulk, for both of our instances' event logs (SQLite locally, Postgres in
production).

A run over a range reports an event per partition of every asset it plans (materialization planned, check planned)
and every asset it builds (materialization, observation). Dagster hands them to ``store_event_batch`` when
``DAGSTER_EVENT_BATCH_SIZE`` is set, but its SQL storages still store the planned ones one by one: on a half-year
backfill that is thousands of transactions, each a connection and a commit. Here a batch is one transaction: the
event rows in one statement, then the rows Dagster derives from them (asset tags, the asset's own row, a planned
check's row per partition), exactly as ``store_event`` would write them.
"""

from __future__ import annotations

import os

from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster_shared.serdes import serialize_value
from sqlalchemy.engine import Connection

# Dagster reads the variable as it goes; without it every event is stored alone.
EVENT_BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE"
BATCHED_EVENTS = {DagsterEventType.ASSET_MATERIALIZATION.value, DagsterEventType.ASSET_OBSERVATION.value,
                  DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value}
CHECK_PLANNED = DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value


def enable_event_batches() -> None:
    """Batches of up to 1,000 events: they stay in memory only until the step has yielded them all (microseconds
    apart). A user's own setting wins."""
    os.environ.setdefault(EVENT_BATCH_SIZE, "1000")


def _last_per_asset(events: list[tuple]) -> list[tuple]:
    """The (event, id) pairs whose upserts of their asset's row leave it as all of them in order would: an event
    sets the row's columns from itself alone, so of an asset's events of one kind the last decides. An asset with
    events of several kinds keeps them all (the kinds set different columns)."""
    by_asset: dict[str, list[tuple]] = {}
    for entry, event_id in events:
        by_asset.setdefault(entry.dagster_event.asset_key.to_string(), []).append((entry, event_id))
    kept = []
    for pairs in by_asset.values():
        kept.extend(pairs[-1:] if len({e.dagster_event_type for e, _ in pairs}) == 1 else pairs)
    return sorted(kept, key=lambda pair: pair[1])


class BatchedEventWrites:
    """Mixed into a ``SqlEventLogStorage`` (before it): ``store_event_batch`` in one transaction, and the schema
    checks Dagster makes on every asset event answered once."""

    # Dagster inspects the schema on every materialization (is the asset tags table there, does the asset keys table
    # have its index columns): catalog reads per event, on a second connection opened inside the event's own
    # transaction. What is there stays there.
    def has_table(self, table_name: str) -> bool:
        seen = self.__dict__.setdefault("_schema_seen", set())
        if table_name not in seen and super().has_table(table_name):
            seen.add(table_name)
        return table_name in seen

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        seen, present = self.__dict__.setdefault("_schema_seen", set()), f"asset_keys.{column_name}"
        if present not in seen and super()._has_asset_key_col_on_connection(conn, column_name):
            seen.add(present)
        return present in seen

    def store_event_batch(self, events) -> None:
        """The events Dagster reports per partition, stored as ``store_event`` stores each, in one transaction: the
        rows in the index with the asset's row, tags and check rows, then (where runs have their own database) the
        run's own rows. Others go one by one."""
        kinds = {e.dagster_event_type.value if e.dagster_event_type else None for e in events}
        if not events or not kinds <= BATCHED_EVENTS | {CHECK_PLANNED} or len({e.run_id for e in events}) != 1:
            super().store_event_batch(events)
            return
        rows = [self._event_to_row(e) for e in events]
        # The index first: it is the database other runs write too, so the one likely to be busy, and a batch that
        # fails there has written nothing (Dagster then stores the events one by one).
        with self.index_transaction() as conn:
            # One statement for all rows, their ids returned in the rows' order.
            inserted = conn.execute(SqlEventLogStorageTable.insert().returning(
                SqlEventLogStorageTable.c.id, sort_by_parameter_order=True), rows)
            ids = [row[0] for row in inserted]
            assets = [(e, i) for e, i in zip(events, ids) if e.dagster_event_type.value in BATCHED_EVENTS]
            self._store_asset_event_tags(conn, [e for e, _ in assets], [i for _, i in assets])
            for entry, event_id in zip(events, ids):
                if entry.dagster_event_type.value == CHECK_PLANNED:
                    self._insert_check_planned(conn, entry, event_id)
            for entry, event_id in _last_per_asset(assets):
                self._store_asset_event(conn, entry, event_id)
        self._store_run_rows(events[0].run_id, rows)

    def _store_run_rows(self, run_id: str, rows: list[dict]) -> None:
        """Where a run's events have their own database (SQLite's run files), write them there too. In one database
        the index's rows are the run's."""

    def _store_asset_check_evaluation_planned(self, entry, event_id: int | None) -> None:
        with self.index_connection() as conn:
            self._insert_check_planned(conn, entry, event_id)

    def _insert_check_planned(self, conn: Connection, entry, event_id: int | None) -> None:
        """Dagster's rows for a planned check, one per partition, with the event serialized once rather than once
        per partition (a check over a half-year: 177 copies of the same text), inserted as one statement run per
        row rather than one statement of 177 rows, which SQLAlchemy took longer to build than to run."""
        planned = entry.dagster_event.event_specific_data
        keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        common = dict(
            asset_key=planned.asset_key.to_string(),
            check_name=planned.check_name,
            run_id=entry.run_id,
            execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
            evaluation_event=serialize_value(entry),
            evaluation_event_timestamp=self._event_insert_timestamp(entry),
            evaluation_event_storage_id=event_id,
        )
        conn.execute(AssetCheckExecutionsTable.insert(), [{**common, "partition": key} for key in keys])
