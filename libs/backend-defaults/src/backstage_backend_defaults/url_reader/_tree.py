"""Trees read from a provider's archive (a gzipped tar with one top-level directory).

The archive is read in memory, bounded: readers refuse archives larger than
`MAX_ARCHIVE_BYTES`, and members are never extracted outside the target directory (links
and absolute or climbing paths are skipped).
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime

import anyio
from backstage_backend_plugin_api import ReadTreeFilter, UrlReaderServiceReadTreeResponseFile

__all__ = ["MAX_ARCHIVE_BYTES", "ArchiveTree", "tree_from_files", "tree_from_zip"]

MAX_ARCHIVE_BYTES = 256 * 1024 * 1024


def _members(
    archive: bytes, subpath: str, keep: ReadTreeFilter | None, strip_top: bool
) -> list[UrlReaderServiceReadTreeResponseFile]:
    prefix = subpath.strip("/")
    files: list[UrlReaderServiceReadTreeResponseFile] = []
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            parts = member.name.split("/")
            if strip_top:
                parts = parts[1:]
            path = "/".join(p for p in parts if p)
            if not path or any(p in (".", "..") for p in parts) or member.name.startswith("/"):
                continue
            if prefix:
                if not path.startswith(prefix + "/"):
                    continue
                path = path[len(prefix) + 1 :]
            if keep is not None and not keep(path, member.size):
                continue
            extracted = tar.extractfile(member)
            content = extracted.read() if extracted is not None else b""
            modified = datetime.fromtimestamp(member.mtime, UTC) if member.mtime else None
            files.append(UrlReaderServiceReadTreeResponseFile(path, content, modified))
    return files


class ArchiveTree:
    """A `UrlReaderServiceReadTreeResponse` over files already read."""

    def __init__(self, etag: str, load: Callable[[], list[UrlReaderServiceReadTreeResponseFile]]):
        self._etag = etag
        self._load = load
        self._files: list[UrlReaderServiceReadTreeResponseFile] | None = None

    @property
    def etag(self) -> str:
        return self._etag

    async def files(self) -> list[UrlReaderServiceReadTreeResponseFile]:
        if self._files is None:
            self._files = await anyio.to_thread.run_sync(self._load)
        return self._files

    async def archive(self) -> bytes:
        files = await self.files()

        def pack() -> bytes:
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w") as tar:
                for file in files:
                    info = tarfile.TarInfo(file.path)
                    info.size = len(file.content)
                    if file.last_modified_at is not None:
                        info.mtime = int(file.last_modified_at.timestamp())
                    tar.addfile(info, io.BytesIO(file.content))
            return buffer.getvalue()

        return await anyio.to_thread.run_sync(pack)

    async def dir(self, target_dir: str | None = None) -> str:
        files = await self.files()

        def write() -> str:
            root = target_dir or tempfile.mkdtemp(prefix="backstage-")
            real_root = os.path.realpath(root)
            for file in files:
                target = os.path.realpath(os.path.join(real_root, file.path))
                if os.path.commonpath([real_root, target]) != real_root:
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "wb") as handle:
                    handle.write(file.content)
            return root

        return await anyio.to_thread.run_sync(write)


def tree_from_files(
    etag: str, archive: bytes, subpath: str, keep: ReadTreeFilter | None, *, strip_top: bool = True
) -> ArchiveTree:
    """The tree of `archive` under `subpath` (relative paths), filtered by `keep`."""
    return ArchiveTree(etag, lambda: _members(archive, subpath, keep, strip_top))


def _zip_members(
    archive: bytes, keep: ReadTreeFilter | None, strip_top: bool
) -> list[UrlReaderServiceReadTreeResponseFile]:
    files: list[UrlReaderServiceReadTreeResponseFile] = []
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        for info in zipped.infolist():
            if info.is_dir():
                continue
            parts = [p for p in info.filename.split("/") if p]
            if strip_top:
                parts = parts[1:]
            if not parts or any(p in (".", "..") for p in parts) or info.filename.startswith("/"):
                continue
            path = "/".join(parts)
            if keep is not None and not keep(path, info.file_size):
                continue
            modified = datetime(*info.date_time, tzinfo=UTC)
            files.append(UrlReaderServiceReadTreeResponseFile(path, zipped.read(info), modified))
    return files


def tree_from_zip(
    etag: str, archive: bytes, keep: ReadTreeFilter | None, *, strip_top: bool
) -> ArchiveTree:
    """The tree of a zip `archive` (Azure DevOps), filtered by `keep`; `strip_top` drops
    each entry's first directory."""
    return ArchiveTree(etag, lambda: _zip_members(archive, keep, strip_top))
