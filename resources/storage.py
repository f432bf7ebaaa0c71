"""The two buckets (raw and processed): folders under the warehouse locally, S3 on AWS; pyarrow.fs for both."""

from __future__ import annotations

import os
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlparse

import dagster as dg
import pyarrow as pa
import pyarrow.fs as pafs

from resources.files import durable_replace, file_lock, sync_directory

PARALLEL_PUTS = 16

AREAS = ("raw", "processed")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


RAW_PREFIX_PATTERN = re.compile(r"^([A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*)?$")


def check_raw_prefix(prefix: str) -> str:
    """The folder Firehose writes under (``events``, or empty for Firehose's bare ``YYYY/MM/DD/HH/``)."""
    prefix = prefix.strip("/")
    if not RAW_PREFIX_PATTERN.match(prefix) or ".." in prefix:
        raise ValueError(f"raw prefix {prefix!r} must be folder names of letters, digits, _ . = -, or empty")
    return prefix


class Storage(dg.ConfigurableResource, ABC):
    """Reads, lists and atomically writes objects in the raw and processed areas."""

    # Where the delivery stream writes in the raw area: Firehose's S3 prefix without the YYYY/MM/DD/HH/ part.
    raw_prefix: str = "events"

    def raw_key(self, rest: str = "") -> str:
        """A key under the raw prefix (``events/2026/11/02/``), or the prefix itself with ``rest`` empty."""
        prefix = check_raw_prefix(self.raw_prefix)
        return f"{prefix}/{rest}" if prefix else rest

    def ddl_locations(self) -> dict[str, str]:
        """What ``{raw}``, ``{raw_events}`` and ``{processed}`` in ``sql/ddl/`` stand for in this storage."""
        return {"raw": self.uri("raw"), "processed": self.uri("processed"),
                "raw_events": self.uri("raw", self.raw_key()).rstrip("/") + "/"}

    @abstractmethod
    def filesystem(self) -> pafs.FileSystem: ...

    @abstractmethod
    def uri(self, area: str, key: str = "") -> str:
        """What catalogs store: ``file:///…/processed/events`` or ``s3://bucket/events``."""

    @abstractmethod
    def resolve(self, uri: str) -> str:
        """The filesystem path of a URI this storage made."""

    @property
    def local_root(self) -> str | None:
        return None

    def path(self, area: str, key: str = "") -> str:
        return self.resolve(self.uri(area, key))

    def list(self, area: str, prefix: str) -> list[ObjectInfo]:
        """Objects under ``prefix``, skipping dot- and underscore-files (writers' temp files)."""
        fs, base = self.filesystem(), self.path(area)
        selector = pafs.FileSelector(self.path(area, prefix), recursive=True, allow_not_found=True)
        found = []
        for info in fs.get_file_info(selector):
            name = info.base_name
            if info.type == pafs.FileType.File and not name.startswith((".", "_")):
                found.append(ObjectInfo(info.path[len(base) :].lstrip("/"), info.size))
        return sorted(found, key=lambda o: o.key)

    def list_uri(self, uri: str) -> list[ObjectInfo]:
        """Every object under a URI, keyed by its filesystem path."""
        selector = pafs.FileSelector(self.resolve(uri), recursive=True, allow_not_found=True)
        infos = self.filesystem().get_file_info(selector)
        return [ObjectInfo(i.path, i.size) for i in infos if i.type == pafs.FileType.File]

    def exists(self, area: str, key: str) -> bool:
        return self.filesystem().get_file_info(self.path(area, key)).type == pafs.FileType.File

    def read_bytes(self, area: str, key: str) -> bytes:
        return self.read_buffer(area, key).to_pybytes()

    def read_buffer(self, area: str, key: str, size: int | None = None) -> pa.Buffer:
        """An object's bytes in the Arrow buffer they were read into: ``read_bytes`` copies them once more. With
        ``size`` (the listing's) the stream is read in one call; without it pyarrow reads a stream 16 KB at a time
        into Python bytes and joins them."""
        # compression=None: the bytes as stored; pyarrow would otherwise inflate .gz keys behind our back.
        with self.filesystem().open_input_stream(self.path(area, key), compression=None) as stream:
            if size is None:
                return stream.read_buffer()
            data = stream.read_buffer(size)
            # Read on to the end: the object may have grown since it was listed, and what is there is what is read.
            rest = stream.read_buffer() if data.size == size else None
            return pa.py_buffer(data.to_pybytes() + rest.to_pybytes()) if rest is not None and rest.size else data

    def write_bytes(self, area: str, key: str, data: bytes) -> None:
        self.put_uri(self.uri(area, key), data=data)

    @contextmanager
    def exclusive(self, area: str, key: str) -> Iterator[None]:
        """Hold off every other writer that asks for ``key`` (a dot-name, never listed) until this exits: for a
        read-modify-write of an object. S3 has no lock to take: its one read-modify-write (a day's seal manifests)
        runs in the sealing pool, one run at a time (deploy/dagster.yaml)."""
        yield

    def write_many(self, area: str, objects: Mapping[str, bytes]) -> None:
        """Several objects, each replaced whole as by :meth:`write_bytes`, written concurrently."""
        self._concurrently([(self.uri(area, key), data, None) for key, data in objects.items()])

    def put_files(self, files: Mapping[str, str]) -> None:
        """Several finished local files moved to their URIs, each whole as by :meth:`put_uri`, concurrently."""
        self._concurrently([(uri, None, local_file) for uri, local_file in files.items()])

    def _concurrently(self, puts: list[tuple[str, bytes | None, str | None]]) -> None:
        # Each write still syncs its file before it counts as done, and its folder before the call returns; run side
        # by side, the disk commits many syncs at once: a backfill's thousands of small files took ~2 ms each one
        # after another. A folder is synced once for all the renames in it (a seal's 3,604 manifests share one).
        workers = max(1, min(PARALLEL_PUTS, len(puts)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            folders = set(pool.map(lambda put: self.put_uri(*put, sync_folder=False), puts)) - {None}
            list(pool.map(sync_directory, folders))

    def put_uri(self, uri: str, data: bytes | None = None, local_file: str | None = None,
                sync_folder: bool = True) -> str | None:
        """Replace one object whole: readers see the old version or the new one, never a mix.

        Locally: write a dot-file beside it and rename (atomic on one filesystem), the local folder it went into
        returned; ``sync_folder=False`` leaves syncing that folder (the rename) to the caller. On S3: a single PUT
        (or a multipart upload, visible only when complete) is atomic and durable by itself.
        """
        fs, target = self.filesystem(), self.resolve(uri)
        parent = target.rsplit("/", 1)[0]
        if isinstance(fs, pafs.LocalFileSystem):
            fs.create_dir(parent, recursive=True)
            tmp = f"{parent}/.{target.rsplit('/', 1)[1]}.{uuid.uuid4().hex}.tmp"
            if local_file is not None:
                os.replace(local_file, tmp) if _same_device(local_file, parent) else _copy(local_file, tmp)
            else:
                with open(tmp, "wb") as handle:
                    handle.write(data)
            durable_replace(tmp, target, sync_folder=sync_folder)
            return parent
        with fs.open_output_stream(target, compression=None) as out:  # bytes as given, even for .gz keys
            if local_file is not None:
                with open(local_file, "rb") as handle:
                    while chunk := handle.read(8 << 20):
                        out.write(chunk)
            else:
                out.write(data)
        return None


def _same_device(a: str, b: str) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def _copy(src: str, dst: str) -> None:
    with open(src, "rb") as i, open(dst, "wb") as o:
        while chunk := i.read(8 << 20):
            o.write(chunk)
    os.unlink(src)


class LocalStorage(Storage):
    """Local twin: ``<warehouse>/raw`` and ``<warehouse>/processed`` stand in for the buckets."""

    warehouse: str

    def filesystem(self) -> pafs.FileSystem:
        return pafs.LocalFileSystem()

    @property
    def local_root(self) -> str:
        return self.warehouse

    def uri(self, area: str, key: str = "") -> str:
        if area not in AREAS:
            raise ValueError(f"unknown storage area {area!r}")
        return f"file://{self.warehouse}/{area}" + (f"/{key}" if key else "")

    @contextmanager
    def exclusive(self, area: str, key: str) -> Iterator[None]:
        """An exclusive lock on the file ``key`` (created empty), which every process on this machine honours:
        locally nothing limits how many runs seal at once."""
        with file_lock(self.path(area, key)):
            yield

    def resolve(self, uri: str) -> str:
        parsed = urlparse(uri)
        if parsed.scheme != "file":
            raise ValueError(f"{uri} is not in the local warehouse")
        return parsed.path.rstrip("/") if parsed.path != "/" else "/"


class S3Storage(Storage):
    """AWS twin: the raw and processed buckets, through ``pyarrow.fs.S3FileSystem``."""

    raw_bucket: str
    processed_bucket: str
    region: str | None = None
    endpoint_url: str | None = None

    def filesystem(self) -> pafs.FileSystem:
        from resources.aws import endpoint_url, region

        endpoint = endpoint_url(self.endpoint_url)
        options = {"region": region(self.region)}
        if endpoint:
            parsed = urlparse(endpoint)
            options.update(endpoint_override=parsed.netloc, scheme=parsed.scheme or "http")
        return pafs.S3FileSystem(**options)

    def uri(self, area: str, key: str = "") -> str:
        bucket = {"raw": self.raw_bucket, "processed": self.processed_bucket}[area]
        return f"s3://{bucket}" + (f"/{key}" if key else "")

    def resolve(self, uri: str) -> str:
        parsed = urlparse(uri)
        if parsed.scheme != "s3":
            raise ValueError(f"{uri} is not an S3 URI")
        return f"{parsed.netloc}{parsed.path}".rstrip("/")
