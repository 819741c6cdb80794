"""What GitHub and GitLab web URLs name: owner or project, ref and file path.

The URLs people paste (`https://github.com/o/r/blob/<ref>/<path>`,
`https://gitlab.com/g/p/-/blob/<ref>/<path>`, tree URLs without a ref) are split as
git-url-parse splits them: the ref is exactly one path segment. File paths are decoded until
they stop changing and refused when a segment is `.` or `..`, so no URL can make a reader
ask the provider for a file outside the repository path it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from backstage_common.errors import InputError

__all__ = ["GithubUrl", "GitlabUrl", "decode_file_path", "parse_github_url", "parse_gitlab_url"]

_GITHUB_KINDS = frozenset({"blob", "tree", "raw", "edit"})
_GITLAB_KINDS = frozenset({"blob", "tree", "raw", "edit"})


def decode_file_path(path: str) -> str:
    """`path` URI-decoded until it no longer changes, without leading or trailing `/`.

    Args:
        path: a file path as it appears in a URL.

    Raises:
        InputError: a segment is `.` or `..` ("path traversal is not allowed").
    """
    decoded = path
    for _ in range(10):
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
    if any(segment in (".", "..") for segment in decoded.replace("\\", "/").split("/")):
        raise InputError(f"Invalid path {path!r}, path traversal is not allowed")
    if "\x00" in decoded:
        raise InputError(f"Invalid path {path!r}")
    return decoded.strip("/")


@dataclass(frozen=True, slots=True)
class GithubUrl:
    """A GitHub repository URL, split.

    Args:
        origin: `scheme://host[:port]`.
        owner: the user or organisation.
        repo: the repository, or None for an owner's URL.
        kind: `blob`, `tree`, `raw` or `edit`; None when the URL names only the repository.
        ref: the branch, tag or sha (one segment), or None.
        path: the decoded file path within the repository (no leading `/`), `""` for the root.
    """

    origin: str
    owner: str
    repo: str | None
    kind: str | None
    ref: str | None
    path: str

    @property
    def prefix(self) -> str:
        """`<origin>/<owner>/<repo>/<kind>/<ref>`: what a search result URL starts with."""
        return f"{self.origin}/{self.owner}/{self.repo}/{self.kind or 'blob'}/{self.ref}"


def _segments(url: str) -> tuple[str, list[str]]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"Invalid URL {url!r}, expected an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}", [s for s in parts.path.split("/") if s != ""]


def parse_github_url(url: str) -> GithubUrl:
    """Split a GitHub web URL.

    Args:
        url: `https://<host>/<owner>[/<repo>[/(blob|tree|raw|edit)/<ref>[/<path>]]]`.

    Raises:
        InputError: the URL has no owner, a kind without a ref, or a traversing path.
    """
    origin, segments = _segments(url)
    if not segments:
        raise InputError(f"Invalid GitHub URL {url!r}, it names no owner")
    owner = segments[0]
    repo = segments[1] if len(segments) > 1 else None
    if repo is not None and repo.endswith(".git"):
        repo = repo[: -len(".git")]
    kind = ref = None
    path = ""
    if len(segments) > 2:
        kind = segments[2]
        if kind not in _GITHUB_KINDS or len(segments) < 4:
            raise InputError(
                f"Invalid GitHub URL {url!r}, expected /<owner>/<repo>/blob/<ref>/<path>"
            )
        ref = unquote(segments[3])
        path = decode_file_path("/".join(segments[4:]))
    return GithubUrl(origin, owner, repo, kind, ref, path)


@dataclass(frozen=True, slots=True)
class GitlabUrl:
    """A GitLab project URL, split.

    Args:
        origin: `scheme://host[:port]`.
        relative_path: the sub-path the instance is served at (`""` or `/gitlab`).
        project: the project's full path (`group/sub/project`).
        kind: `blob`, `tree`, `raw` or `edit`; None when the URL names only the project.
        ref: the branch, tag or sha (one segment), or None.
        path: the decoded file path within the project (no leading `/`), `""` for the root.
    """

    origin: str
    relative_path: str
    project: str
    kind: str | None
    ref: str | None
    path: str

    @property
    def project_url(self) -> str:
        """The project's web URL."""
        return f"{self.origin}{self.relative_path}/{self.project}"


def parse_gitlab_url(url: str, base_url: str) -> GitlabUrl:
    """Split a GitLab web URL of the instance at `base_url`.

    Args:
        url: `<base>/<group…>/<project>[/-/(blob|tree)/<ref>[/<path>]]` (`/-` optional).
        base_url: the instance's `baseUrl`; its path must prefix the URL's path.

    Raises:
        InputError: the URL is outside the instance's sub-path, names no project, or has a
            traversing path.
    """
    origin, segments = _segments(url)
    relative = urlsplit(base_url).path.rstrip("/")
    relative_segments = [s for s in relative.split("/") if s]
    if segments[: len(relative_segments)] != relative_segments:
        raise InputError(f"Invalid GitLab URL {url!r}, it must start with {base_url}")
    segments = segments[len(relative_segments) :]
    kind = ref = None
    path = ""
    marker = None
    for index, segment in enumerate(segments):
        if segment == "-" or (segment in _GITLAB_KINDS and index >= 2):
            marker = index
            break
    project_segments = segments if marker is None else segments[:marker]
    if len(project_segments) < 2:
        raise InputError(f"Invalid GitLab URL {url!r}, expected /<group>/<project>/-/blob/...")
    if marker is not None:
        rest = segments[marker + 1 :] if segments[marker] == "-" else segments[marker:]
        if len(rest) < 2 or rest[0] not in _GITLAB_KINDS:
            raise InputError(f"Invalid GitLab URL {url!r}, expected /-/blob/<ref>/<path>")
        kind = rest[0]
        ref = unquote(rest[1])
        path = decode_file_path("/".join(rest[2:]))
    project = "/".join(unquote(s) for s in project_segments)
    return GitlabUrl(origin, relative, project, kind, ref, path)
