"""Repositories of the loopback SCM servers: files per branch, commit shas, blob shas, archives."""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from dataclasses import dataclass, field

__all__ = ["FakeRepository", "blob_sha", "make_tarball"]


def blob_sha(content: bytes) -> str:
    """Git's blob id of `content`."""
    return hashlib.sha1(b"blob %d\x00" % len(content) + content).hexdigest()


@dataclass
class FakeRepository:
    """A repository: `branches` maps a branch name to its files (`path -> bytes`).

    Args:
        owner: the owning user, organisation or GitLab group path (`group/sub`).
        name: the repository's name.
        branches: the files of each branch.
        default_branch: the default branch.
        private: readable only with a token that covers it.
    """

    owner: str
    name: str
    branches: dict[str, dict[str, bytes]] = field(default_factory=dict)
    default_branch: str = "main"
    private: bool = False
    topics: list[str] = field(default_factory=list)
    archived: bool = False
    fork: bool = False
    id: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def files(self, ref: str) -> dict[str, bytes] | None:
        """The files at a branch or at one of the branches' commit shas."""
        if ref in self.branches:
            return self.branches[ref]
        for branch in self.branches:
            if self.commit_sha(branch) == ref:
                return self.branches[branch]
        return None

    def commit_sha(self, branch: str) -> str:
        """A sha that changes whenever the branch's files change."""
        digest = hashlib.sha1(f"{self.full_name}@{branch}".encode())
        for path in sorted(self.branches.get(branch, {})):
            digest.update(path.encode() + b"\x00" + blob_sha(self.branches[branch][path]).encode())
        return digest.hexdigest()

    def set_file(self, path: str, content: bytes | str, branch: str | None = None) -> None:
        """Add or change a file (a push)."""
        data = content.encode() if isinstance(content, str) else content
        self.branches.setdefault(branch or self.default_branch, {})[path.strip("/")] = data

    def delete_file(self, path: str, branch: str | None = None) -> None:
        self.branches.get(branch or self.default_branch, {}).pop(path.strip("/"), None)


def make_tarball(top: str, files: dict[str, bytes], subpath: str = "") -> bytes:
    """A gzipped tar of `files` under the directory `top/` (only those under `subpath`)."""
    buffer = io.BytesIO()
    prefix = subpath.strip("/")
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        directory = tarfile.TarInfo(top)
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        archive.addfile(directory)
        for path in sorted(files):
            if prefix and not (path == prefix or path.startswith(prefix + "/")):
                continue
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size = len(files[path])
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(files[path]))
    return buffer.getvalue()
