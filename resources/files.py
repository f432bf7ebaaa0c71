"""Writing files so that they survive a crash or a power cut. Plain Python: the producer imports it without Dagster."""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

# Buffers per writev call: Linux takes at most 1024 (IOV_MAX).
_IOV_MAX = 1024
# O_DIRECT wants the buffer, the file offset and the length aligned to the device's block: 4 KiB suits every
# common one (512-byte and 4K-sector disks alike).
_BLOCK = 4096


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


def durable_replace(tmp: str, target: str, sync_folder: bool = True) -> None:
    """Rename a finished file into place so that it survives a power cut, not only a crash: its bytes reach the
    disk before the rename, and the rename reaches the disk before we say the write is done (as S3 and Firehose
    do before they acknowledge). ``sync_folder=False``: the caller syncs the folder, once for many renames."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    if sync_folder:
        sync_directory(os.path.dirname(target))


def remove_tree(path: str) -> None:
    """Remove a scratch folder. A partitioned write leaves a folder per partition (thousands in a backfill),
    emptied as each file moved into place: those go side by side, then what is left."""
    leaves = [folder for folder, subfolders, _ in os.walk(path) if not subfolders and folder != path]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda folder: shutil.rmtree(folder, ignore_errors=True), leaves))
    shutil.rmtree(path, ignore_errors=True)


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


class StreamWriter:
    """Writes whole new files durably, like :func:`write_synced`, for a writer that streams gigabytes.

    With ``O_DIRECT`` (Linux, where the file system takes it) the disk reads the bytes straight from a page-aligned
    buffer, reused by each thread: no copy into the page cache, no page-cache page to find, fill, write back and
    evict per 4 KB. The pieces are copied into that buffer (one memcpy), the whole blocks go direct, the last
    partial block through the page cache, then one fsync covers both and the file's size. 1M events (400 MB, 289
    files) took 0.2 s of kernel time through the page cache, even dropping pages behind. Where ``O_DIRECT`` is
    refused (tmpfs, some network file systems, no ``O_DIRECT`` at all) it falls back to
    ``write_synced(drop_cache=True)`` from then on."""

    def __init__(self, direct: bool = True):
        self.direct = direct and hasattr(os, "O_DIRECT")
        self._local = threading.local()

    def write(self, path: str, parts: Sequence[bytes | memoryview]) -> int:
        if self.direct:
            try:
                return self._write_direct(path, parts)
            except OSError as error:
                if error.errno != errno.EINVAL:
                    raise
                self.direct = False  # this file system takes no direct I/O: write through the page cache
        return write_synced(path, parts, drop_cache=True)

    def _buffer(self, size: int) -> mmap.mmap:
        buffer = getattr(self._local, "buffer", None)
        if buffer is None or len(buffer) < size:
            if buffer is not None:
                buffer.close()
            # Anonymous mmap memory is page-aligned (private: plain memory, not shared memory); rounded up to 1 MiB
            # so a slightly larger object reuses it.
            buffer = self._local.buffer = mmap.mmap(-1, max(1 << 20, -(-size // (1 << 20)) << 20),
                                                    flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        return buffer

    def _write_direct(self, path: str, parts: Sequence[bytes | memoryview]) -> int:
        import fcntl  # POSIX only, like O_DIRECT

        size = sum(len(p) for p in parts)
        buffer = self._buffer(size)
        at = 0
        for part in parts:
            buffer[at : at + len(part)] = part
            at += len(part)
        whole = size - size % _BLOCK
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
        try:
            with memoryview(buffer) as view:
                done = 0
                while done < whole:  # a short direct write ends on a block; the next one carries on from there
                    done += os.pwrite(fd, view[done:whole], done)
                if whole < size:  # the partial last block cannot go direct
                    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
                    while done < size:
                        done += os.pwrite(fd, view[done:size], done)
            os.fsync(fd)
        finally:
            os.close(fd)
        return size


@contextmanager
def file_lock(path: str) -> Iterator[None]:
    """An exclusive lock on ``path`` (created empty if missing) that every process on this machine honours, held
    until the block exits."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
