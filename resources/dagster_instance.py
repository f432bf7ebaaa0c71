"""The local profile's Dagster instance: Dagster's own SQLite storage, with the event log's connections kept open.

Dagster's SQLite event log opens a new SQLAlchemy engine and connection for every event it stores and closes it
after: on a half-year backfill (thousands of partitions, two events each) that cost ~10 ms per event, most of it
SQLite closing the last connection to a WAL database, which checkpoints and syncs the file every time. This
storage is the same class, tables and files (``<DAGSTER_HOME>/history/runs``), with one pooled engine per database
file (the index and the few runs being written), so an event costs one insert and one commit.

Commits use SQLite's ``synchronous=NORMAL`` in WAL mode: the database survives a crash of any process intact and
with every committed event; a power cut can lose the events of the last moments (never corrupt the file), as
SQLite documents. The data those events describe is synced as it is written, and a re-run rebuilds any partition
whole, so nothing a user needs is at risk; a disk sync per event cost more than the rest of the event. The AWS
deployment keeps its events in Postgres (deploy/dagster.yaml).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy.exc as db_exc
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster_shared.serdes import serialize_value
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

# The index plus the runs being written or watched: a webserver reading old runs does not keep their files open.
OPEN_DATABASES = 4

INSTANCE_YAML = """\
telemetry:
  enabled: false
# Dagster's SQLite event log with its connections kept open (resources/dagster_instance.py): same files, same
# tables, ~10x cheaper per event than opening and closing SQLite for each one.
event_log_storage:
  module: resources.dagster_instance
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""
# Dagster hands the per-partition events of a run's start and of a step to ``store_event_batch`` when this is set (it
# reads the variable as it goes): a half-year build stores ~4,000 of them, and a transaction each cost more than the
# rows.
EVENT_BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE"
BATCHED_EVENTS = {DagsterEventType.ASSET_MATERIALIZATION.value, DagsterEventType.ASSET_OBSERVATION.value,
                  DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value}
CHECK_PLANNED = DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value

# What ensure_dagster_home wrote before this storage existed: such a file is upgraded in place, any other is the
# user's and left alone.
PREVIOUS_INSTANCE_YAML = "telemetry:\n  enabled: false\n"


def _commit_without_disk_sync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


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


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """SQLite event log storage that keeps an engine (and its connection) per database file between events."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._schema_seen: set[str] = set()
        self._pid = os.getpid()
        super().__init__(base_dir, inst_data)
        # The events of a batch stay in memory until the step has yielded them all (microseconds apart); a user's
        # own setting wins.
        os.environ.setdefault(EVENT_BATCH_SIZE, "1000")

    @classmethod
    def from_config_value(cls, inst_data, config_value):  # ty: ignore[invalid-method-override]
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        if os.getpid() != self._pid:  # a forked child must not share its parent's SQLite handles
            for engine in self._engines.values():
                engine.dispose(close=False)
            self._engines.clear()
            self._pid = os.getpid()
        engine = self._engines.pop(shard, None)
        if engine is None:
            # Calls are serialised by the storage's lock; Dagster's schema check opens a second connection
            # while holding the first, hence the overflow.
            engine = create_engine(
                self.conn_string_for_shard(shard),
                pool_size=1,
                max_overflow=4,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            event.listen(engine, "connect", _commit_without_disk_sync)
        self._engines[shard] = engine
        while len(self._engines) > OPEN_DATABASES:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    # Dagster inspects the schema on every materialization (is the asset tags table there, does the asset keys table
    # have its index columns): two more connections and catalog reads per event. What is there stays there.
    def has_table(self, table_name: str) -> bool:
        if table_name not in self._schema_seen and super().has_table(table_name):
            self._schema_seen.add(table_name)
        return table_name in self._schema_seen

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        present = f"asset_keys.{column_name}"
        if present not in self._schema_seen and super()._has_asset_key_col_on_connection(conn, column_name):
            self._schema_seen.add(present)
        return present in self._schema_seen

    def store_event_batch(self, events) -> None:
        """The events Dagster reports per partition (planned materializations and checks when a run starts, a
        step's materializations), stored as ``store_event`` stores each, in one transaction per database: the rows
        in the index with the asset's row, tags and check rows, then the run's own rows. Others go one by one."""
        kinds = {e.dagster_event_type.value if e.dagster_event_type else None for e in events}
        if not events or not kinds <= BATCHED_EVENTS | {CHECK_PLANNED} or len({e.run_id for e in events}) != 1:
            super().store_event_batch(events)
            return
        rows = [self._event_to_row(e) for e in events]
        # The index first: it is the database other runs write too, so the one likely to be busy, and a batch that
        # fails there has written nothing (Dagster then stores the events one by one). The run's own database is
        # written by this run alone.
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
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)

    def _store_asset_event(self, conn: Connection, entry, event_id: int) -> None:
        """Dagster's upsert of the asset's row, updating first: the row exists but for an asset's first event,
        and Dagster's insert-first raised and caught an integrity error on every other one."""
        if not (entry.dagster_event and entry.dagster_event.asset_key):
            return
        values = self._get_asset_entry_values(entry, event_id, self._has_asset_key_index_cols_on_connection(conn))
        if not values:
            return
        key = entry.dagster_event.asset_key.to_string()
        if conn.execute(AssetKeyTable.update().values(**values).where(AssetKeyTable.c.asset_key == key)).rowcount:
            return
        try:
            conn.execute(AssetKeyTable.insert().values(asset_key=key, **values))
        except db_exc.IntegrityError:  # another process inserted it meanwhile
            conn.execute(AssetKeyTable.update().values(**values).where(AssetKeyTable.c.asset_key == key))

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

    def _close_all(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def wipe(self) -> None:
        self._close_all()  # wiping deletes the run files: nothing may hold them open
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()


def write_instance_yaml(home: Path) -> None:
    """The local instance's ``dagster.yaml``, unless the user wrote their own."""
    config = home / "dagster.yaml"
    if config.exists() and config.read_text() != PREVIOUS_INSTANCE_YAML:
        return
    base_dir = home / "history" / "runs"
    config.write_text(INSTANCE_YAML.format(base_dir=json.dumps(str(base_dir))))  # JSON strings are YAML
