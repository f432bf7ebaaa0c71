"""Writing files so that they survive a crash or a power cut. Plain Python: the producer imports it without Dagster."""

from __future__ import annotations

import os
from collections.abc import Sequence

# Buffers per writev call: Linux takes at most 1024 (IOV_MAX).
_IOV_MAX = 1024


def write_synced(path: str, parts: Sequence[bytes | memoryview], drop_cache: bool = False) -> int:
    """Write buffers end to end into a new file and fsync it from the same descriptor: the bytes are on disk when
    this returns. Returns the size. ``writev`` hands the kernel many buffers per call, no join in between.

    ``drop_cache`` then evicts the file's (clean, synced) pages from the page cache: a writer that streams
    gigabytes otherwise makes the kernel find a fresh page for every 4 KB it writes, and on a VM whose free memory
    goes back to the host that costs ~10x the copy (2 GB: 3 s of kernel time instead of 0.7 s, measured)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        size = 0
        for at in range(0, len(parts), _IOV_MAX):
            chunk = list(parts[at : at + _IOV_MAX])
            want = sum(len(p) for p in chunk)
            done = os.writev(fd, chunk)
            if done < want:  # a short write (rare, e.g. a signal): finish it buffer by buffer
                rest = b"".join(bytes(p) for p in chunk)[done:]
                while rest:
                    rest = rest[os.write(fd, rest):]
            size += want
        os.fsync(fd)
        if drop_cache and hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return size
    finally:
        os.close(fd)


def sync_directory(directory: str) -> None:
    """fsync a directory, so a rename in it reaches the disk."""
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_replace(tmp: str, target: str) -> None:
    """Rename a finished file into place so that it survives a power cut, not only a crash: its bytes reach the
    disk before the rename, and the rename reaches the disk before we say the write is done (as S3 and Firehose
    do before they acknowledge)."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    sync_directory(os.path.dirname(target))


def write_text_durably(path: str | os.PathLike, text: str) -> None:
    """Replace a small text file (a catalog, a dashboard) whole: readers see the old file or the new one, never a
    half-written one, and the new one survives a power cut. The temporary name is per process, so two writers
    never share one."""
    target = os.fspath(path)
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    durable_replace(tmp, target)
