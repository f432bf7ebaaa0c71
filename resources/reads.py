"""Several statements over the same partitions of the same tables, read once where the engine can hold them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

    from resources.engine import DuckDBEngine, Engine, QueryStats, WriteResult


@dataclass
class Reads:
    """Statements over the partitions an :meth:`Engine.reading` holds."""

    engine: Engine
    partitions: Mapping[str, Sequence[str]]

    def query(self, sql_file: str, params: Mapping[str, object]) -> tuple[pa.Table, QueryStats]:
        return self.engine.query(sql_file, params, partitions=self.partitions)

    def materialize(self, sql_file: str, params: Mapping[str, object], target: str,
                    partition_values: Sequence[str]) -> WriteResult:
        return self.engine.materialize(sql_file, params, target, partition_values, partitions=self.partitions)


@dataclass
class LocalReads(Reads):
    """A local reading, under the engine's budget for streaming a day's rows: statements run on the connection
    holding the partitions (``con``, tables of that connection), or, where nothing is held (``con`` None), each on
    a connection of its own that reads the files where they lie."""

    engine: DuckDBEngine
    con: object | None
    held: Mapping[str, QueryStats]

    def query(self, sql_file, params):
        return self.engine.query(sql_file, params, partitions=self.partitions, shared=self.con, held=self.held,
                                 memory_limit=self.engine.streaming_memory_limit)

    def materialize(self, sql_file, params, target, partition_values):
        return self.engine._materialize(sql_file, params, target, partition_values, self.partitions, None,
                                        shared=self.con, held=self.held,
                                        memory_limit=self.engine.streaming_memory_limit)[0]
