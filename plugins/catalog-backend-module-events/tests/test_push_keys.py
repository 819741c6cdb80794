"""Which refresh keys a push touches."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_plugin_catalog_backend_module_events import github_push_keys, gitlab_push_keys


def github_push(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ref": "refs/heads/main",
        "repository": {"html_url": "https://github.com/acme/shop"},
        "commits": [
            {"added": ["new/catalog-info.yaml"], "modified": ["catalog-info.yaml"], "removed": []},
            {"added": [], "modified": ["README.md", "catalog-info.yaml"], "removed": ["x.yml"]},
        ],
    }
    payload.update(overrides)
    return payload


def test_github_push_keys_blob_and_tree_of_each_catalog_file_once() -> None:
    base = "url:https://github.com/acme/shop"
    assert github_push_keys(github_push()) == [
        f"{base}/blob/main/new/catalog-info.yaml",
        f"{base}/tree/main/new/catalog-info.yaml",
        f"{base}/blob/main/catalog-info.yaml",
        f"{base}/tree/main/catalog-info.yaml",
        f"{base}/blob/main/x.yml",
        f"{base}/tree/main/x.yml",
    ]


def test_github_push_to_another_branch_refreshes_that_branch() -> None:
    keys = github_push_keys(github_push(ref="refs/heads/feature/x"))
    assert "url:https://github.com/acme/shop/blob/feature/x/catalog-info.yaml" in keys


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "push",
        github_push(ref="refs/tags/v1"),
        github_push(ref="refs/heads/"),
        github_push(ref=None),
        github_push(repository={}),
        github_push(repository="acme/shop"),
        github_push(commits="many"),
        github_push(commits=[{"modified": ["README.md"]}]),
        github_push(commits=[{"modified": "catalog-info.yaml"}, None]),
        github_push(commits=[{"modified": ["a.yaml"]}] * 2048),
    ],
)
def test_github_pushes_that_refresh_nothing(payload: Any) -> None:
    assert github_push_keys(payload) == []


def test_gitlab_push_keys() -> None:
    payload = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "project": {"web_url": "https://gitlab.com/group/sub/shop"},
        "commits": [{"added": [], "modified": ["catalog-info.yaml"], "removed": []}],
    }
    assert gitlab_push_keys(payload) == [
        "url:https://gitlab.com/group/sub/shop/-/blob/main/catalog-info.yaml",
        "url:https://gitlab.com/group/sub/shop/-/tree/main/catalog-info.yaml",
    ]
    assert gitlab_push_keys({**payload, "project": None}) == []
