"""Production's Dagster storage: dagster-postgres's run, event log and schedule storages, with their connections
kept open and the per-partition events stored in bulk (deploy/dagster.yaml names these classes).

dagster-postgres opens a new connection for every storage call and closes it after, so that no idle connection is
held per instance. Each connection costs a TCP handshake, TLS to RDS and a SCRAM login (thousands of hash rounds, by
design): ~6 ms on the loopback here, more across a VPC. A half-year backfill makes thousands of calls (a run's
planned and built partitions, each an event), and the connections were a third of its time. Here each storage keeps
one connection per process, checked with a ping before use (RDS restarts, idle timeouts) and replaced every hour;
concurrent callers (the daemon's threads) get more, closed when returned, as before. A process holds at most three
idle connections: one per storage.
"""

from __future__ import annotations

import os

from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from resources.dagster_events import BatchedEventWrites, enable_event_batches

KEPT_CONNECTIONS = 1
EXTRA_CONNECTIONS = 8  # at once, beyond the kept one: opened and closed per call, as dagster-postgres does
RECYCLE_SECONDS = 3600


def _pooled_engine(postgres_url: str, token_provider) -> Engine:
    engine = create_pg_engine(postgres_url, token_provider, isolation_level="AUTOCOMMIT",
                              pool_size=KEPT_CONNECTIONS, max_overflow=EXTRA_CONNECTIONS, pool_pre_ping=True,
                              pool_recycle=RECYCLE_SECONDS)

    # A forked child must open its own connections, never use its parent's (SQLAlchemy's recipe for pools and
    # multiprocessing).
    @event.listens_for(engine, "connect")
    def _remember_pid(_dbapi_connection, record) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _refuse_parents_connection(_dbapi_connection, record, proxy) -> None:
        if record.info["pid"] != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError("connection opened by another process")

    return engine


class _KeptConnections:
    """Mixed into a dagster-postgres storage (before it): its engine keeps a connection between calls."""

    postgres_url: str
    _token_provider: object
    _engine: Engine

    def _keep_connections(self) -> None:
        self._engine.dispose()
        self._engine = _pooled_engine(self.postgres_url, self._token_provider)

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class PooledPostgresRunStorage(_KeptConnections, PostgresRunStorage):
    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._keep_connections()


class PooledPostgresScheduleStorage(_KeptConnections, PostgresScheduleStorage):
    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._keep_connections()


class PooledPostgresEventLogStorage(_KeptConnections, BatchedEventWrites, PostgresEventLogStorage):
    """Also stores a run's per-partition events a batch per transaction (resources/dagster_events.py)."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._keep_connections()
        enable_event_batches()
