"""Several statements over the same partitions of the same tables, read once where the engine can hold them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from resources.engine import DuckDBEngine, Engine, QueryStats, WriteResult


@dataclass
class Reads:
    """Statements over the partitions an :meth:`Engine.reading` holds."""

    engine: Engine
    partitions: Mapping[str, Sequence[str]]
    # Each statement opens its own connection to the files (DuckDB): they can run side by side.
    side_by_side: bool = field(default=False, kw_only=True)

    def together(self, *statements: Callable[[], Any]) -> list[Any]:
        """Run the reading's statements (``lambda: reads.query(...)``), side by side where each has its own
        connection: a build of days wrote its clean day on one thread while the engine's other thread waited for
        the quarantine and the day's counts. Their results, in the order given; the first failure is raised."""
        if not self.side_by_side or len(statements) < 2:
            return [statement() for statement in statements]
        with ThreadPoolExecutor(max_workers=len(statements)) as pool:
            running = [pool.submit(statement) for statement in statements]
            return [future.result() for future in running]

    def query(self, sql_file: str, params: Mapping[str, object]) -> tuple[pa.Table, QueryStats]:
        return self.engine.query(sql_file, params, partitions=self.partitions)

    def materialize(self, sql_file: str, params: Mapping[str, object], target: str,
                    partition_values: Sequence[str]) -> WriteResult:
        return self.engine.materialize(sql_file, params, target, partition_values, partitions=self.partitions)


@dataclass
class HeldReads(Reads):
    """A local reading: statements run on the connection holding the partitions (tables of that connection)."""

    engine: DuckDBEngine
    con: object
    held: Mapping[str, QueryStats]

    def query(self, sql_file, params):
        return self.engine.query(sql_file, params, shared=self.con, held=self.held)

    def materialize(self, sql_file, params, target, partition_values):
        return self.engine._materialize(sql_file, params, target, partition_values, None, None, shared=self.con,
                                        held=self.held)[0]
