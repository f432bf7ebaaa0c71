"""The local engine's writer: a query's rows streamed into one Parquet file per partition."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import resources.partition_files as partition_files
from resources.partition_files import PARTITION, PartitionFiles

SCHEMA = pa.schema([("event_id", pa.string()), ("n", pa.int64())])


def batches(days: list[str], size: int) -> list[pa.RecordBatch]:
    """One row per entry of ``days``, cut into batches of ``size`` rows, as the engine hands them over."""
    table = pa.table({"event_id": [f"e{i}" for i in range(len(days))], "n": list(range(len(days))),
                      PARTITION: days})
    return table.to_batches(max_chunksize=size)


def write(tmp_path, rows: list[str], size: int, values: list[str]) -> dict[str, tuple[str, int]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    files = PartitionFiles(SCHEMA, str(tmp_path), "zstd", None)
    files.write(batches(rows, size))
    return files.close(values)


def test_each_partition_gets_its_rows_in_order_even_when_they_come_back_later(tmp_path):
    rows = ["2026-11-02"] * 3 + ["2026-11-03"] * 2 + ["2026-11-02"] * 2  # the 2nd comes back after the 3rd
    written = write(tmp_path, rows, 2, ["2026-11-02", "2026-11-03", "2026-11-04"])
    second = pq.read_table(written["2026-11-02"][0])
    assert second.column("n").to_pylist() == [0, 1, 2, 5, 6]
    assert written["2026-11-02"][1] == 5
    assert pq.read_table(written["2026-11-03"][0]).column("n").to_pylist() == [3, 4]
    # A partition asked for but without rows still gets its (empty) file, so a re-run leaves nothing old behind.
    assert pq.read_table(written["2026-11-04"][0]).num_rows == 0 and written["2026-11-04"][1] == 0


def test_a_value_nobody_asked_for_is_reported_not_dropped(tmp_path):
    written = write(tmp_path, ["2026-11-02", "2026-11-09"], 8, ["2026-11-02"])
    assert set(written) == {"2026-11-02", "2026-11-09"}  # the engine refuses the stray value


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_the_bytes_depend_on_the_rows_not_on_how_they_were_batched(tmp_path, monkeypatch, size):
    """Large partitions are written as their rows arrive; row groups still hold exactly ROW_GROUP_ROWS rows, so
    a re-run writes the same bytes whatever batches the engine gave."""
    monkeypatch.setattr(partition_files, "ROW_GROUP_ROWS", 10)
    monkeypatch.setattr(partition_files, "HELD_BYTES", 1)
    rows = ["2026-11-02"] * 95 + ["2026-11-03"] * 5
    written = write(tmp_path / str(size), rows, size, ["2026-11-02", "2026-11-03"])
    path = written["2026-11-02"][0]
    metadata = pq.read_metadata(path)
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [10] * 9 + [5]
    assert pq.read_table(path).column("n").to_pylist() == list(range(95))
    reference = write(tmp_path / "one-batch", rows, len(rows), ["2026-11-02", "2026-11-03"])
    digest = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()  # noqa: E731
    assert digest(path) == digest(reference["2026-11-02"][0])
