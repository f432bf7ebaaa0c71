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
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import AssetKeyTable, SqlEventLogStorageTable
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

from resources.dagster_events import BatchedEventWrites, enable_event_batches

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
# What ensure_dagster_home wrote before this storage existed: such a file is upgraded in place, any other is the
# user's and left alone.
PREVIOUS_INSTANCE_YAML = "telemetry:\n  enabled: false\n"


def _commit_without_disk_sync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class PooledSqliteEventLogStorage(BatchedEventWrites, SqliteEventLogStorage):
    """SQLite event log storage that keeps an engine (and its connection) per database file between events."""

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._pid = os.getpid()
        super().__init__(base_dir, inst_data)
        enable_event_batches()

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

    def _store_run_rows(self, run_id: str, rows: list[dict]) -> None:
        """A batch's rows in the run's own file, after the index's (resources/dagster_events.py): that file is
        written by this run alone."""
        with self.run_connection(run_id) as conn:
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
