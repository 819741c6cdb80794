"""The refresh keys a push touches: `url:<file URL>` for each catalog file it changed, in
the URL forms locations are registered with (`blob` and `tree`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["github_push_keys", "gitlab_push_keys"]

_MAX_COMMITS = 2048  # Backstage gives up on larger pushes too
_CATALOG_SUFFIXES = (".yaml", ".yml")
_BRANCH_PREFIX = "refs/heads/"


def _changed_files(payload: dict[str, Any]) -> list[str]:
    commits = payload.get("commits")
    if not isinstance(commits, list) or len(commits) >= _MAX_COMMITS:
        return []
    files: dict[str, None] = {}
    for commit in commits:
        if not isinstance(commit, dict):
            continue
        for change in ("added", "modified", "removed"):
            paths = commit.get(change)
            if not isinstance(paths, list):
                continue
            for path in paths:
                if isinstance(path, str) and path.lower().endswith(_CATALOG_SUFFIXES):
                    files[path.lstrip("/")] = None
    return list(files)


def _branch(payload: dict[str, Any]) -> str | None:
    ref = payload.get("ref")
    if not isinstance(ref, str) or not ref.startswith(_BRANCH_PREFIX):
        return None  # tags and other refs hold no registered location
    branch = ref[len(_BRANCH_PREFIX) :]
    return branch or None


def _keys(base: str, branch: str, files: Iterable[str]) -> list[str]:
    base = base.rstrip("/")
    return [f"url:{base}/{form}/{branch}/{path}" for path in files for form in ("blob", "tree")]


def github_push_keys(payload: Any) -> list[str]:
    """The refresh keys of a GitHub `push` webhook payload (empty when it touches no
    catalog file, is not a branch push, or is malformed).

    Args:
        payload: the webhook's JSON body.
    """
    if not isinstance(payload, dict):
        return []
    repository = payload.get("repository")
    html_url = repository.get("html_url") if isinstance(repository, dict) else None
    branch = _branch(payload)
    if not isinstance(html_url, str) or not html_url or branch is None:
        return []
    return _keys(html_url, branch, _changed_files(payload))


def gitlab_push_keys(payload: Any) -> list[str]:
    """The refresh keys of a GitLab `push` webhook payload (`project.web_url`, files under
    `/-/blob/<branch>/` and `/-/tree/<branch>/`).

    Args:
        payload: the webhook's JSON body.
    """
    if not isinstance(payload, dict):
        return []
    project = payload.get("project")
    web_url = project.get("web_url") if isinstance(project, dict) else None
    branch = _branch(payload)
    if not isinstance(web_url, str) or not web_url or branch is None:
        return []
    return _keys(web_url.rstrip("/") + "/-", branch, _changed_files(payload))
