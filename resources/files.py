"""Writing files so that they survive a crash or a power cut. Plain Python: the producer imports it without Dagster."""

from __future__ import annotations

import os


def durable_replace(tmp: str, target: str) -> None:
    """Rename a finished file into place so that it survives a power cut, not only a crash: its bytes reach the
    disk before the rename, and the rename reaches the disk before we say the write is done (as S3 and Firehose
    do before they acknowledge)."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    directory = os.open(os.path.dirname(target) or ".", os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
