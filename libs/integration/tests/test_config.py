"""The `integrations` config as Backstage reads it, the registry, and URL parsing."""

from __future__ import annotations

from typing import Any

import pytest
from backstage_common.config import Config, ConfigSchema
from backstage_common.errors import InputError
from backstage_integration import (
    ScmIntegrations,
    decode_file_path,
    parse_azure_url,
    parse_bitbucket_server_url,
    parse_github_url,
    parse_gitlab_url,
)


def integrations(data: dict[str, Any]) -> ScmIntegrations:
    return ScmIntegrations.from_config(Config.from_data({"integrations": data}))


def test_github_com_and_gitlab_com_are_there_without_config() -> None:
    registry = integrations({})
    github = registry.github.by_url("https://github.com/acme/web/blob/main/x.yaml")
    assert github is not None
    assert github.api_base_url == "https://api.github.com"
    assert github.raw_base_url == "https://raw.githubusercontent.com"
    gitlab = registry.gitlab.by_host("gitlab.com")
    assert gitlab is not None
    assert gitlab.api_base_url == "https://gitlab.com/api/v4"
    assert registry.by_url("https://example.com/x") is None


def test_github_enterprise_with_apps() -> None:
    registry = integrations(
        {
            "github": [
                {
                    "host": "ghe.example.com",
                    "apiBaseUrl": "https://ghe.example.com/api/v3/",
                    "token": "  pat  ",
                    "apps": [
                        {
                            "appId": "42",
                            "privateKey": "-----BEGIN KEY-----\\nabc\\n-----END KEY-----",
                            "clientId": "id",
                            "clientSecret": "secret",
                            "webhookSecret": "hook",
                            "allowedInstallationOwners": ["Acme"],
                        }
                    ],
                }
            ]
        }
    )
    entry = registry.github.by_host("GHE.example.com")
    assert entry is not None
    assert entry.api_base_url == "https://ghe.example.com/api/v3"
    assert entry.raw_base_url is None
    assert entry.token == "pat"
    [app] = entry.apps
    assert app.app_id == 42
    assert app.private_key == "-----BEGIN KEY-----\nabc\n-----END KEY-----"
    assert app.webhook_secret == "hook"
    assert app.allowed_installation_owners == ("acme",)
    # secrets stay out of logs
    assert "secret" not in repr(app)
    assert "pat" not in repr(entry)
    # github.com is still added beside the enterprise host
    assert registry.github.by_host("github.com") is not None


def test_gitlab_self_hosted_needs_an_api_base_url() -> None:
    with pytest.raises(InputError, match=r"integrations\.gitlab\[0\]\.apiBaseUrl"):
        integrations({"gitlab": [{"host": "git.example.com"}]})
    registry = integrations(
        {
            "gitlab": [
                {
                    "host": "git.example.com:8443",
                    "apiBaseUrl": "https://git.example.com:8443/gitlab/api/v4",
                    "baseUrl": "https://git.example.com:8443/gitlab",
                    "token": "glpat",
                }
            ]
        }
    )
    entry = registry.gitlab.by_url("https://git.example.com:8443/gitlab/g/p/-/blob/main/x")
    assert entry is not None
    assert entry.token == "glpat"
    assert registry.gitlab.by_url("https://git.example.com/g/p") is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"host": "https://github.example.com"}, "host"),
        ({"host": "ghe.example.com/path"}, "host"),
        ({"host": "ghe.example.com", "apiBaseUrl": "ftp://x"}, "apiBaseUrl"),
        ({"host": "ghe.example.com", "apps": [{"appId": 1}]}, "privateKey"),
        (
            {
                "host": "ghe.example.com",
                "apps": [{"appId": "x", "privateKey": "k", "clientId": "c", "clientSecret": "s"}],
            },
            "appId",
        ),
    ],
)
def test_invalid_github_entries_name_their_key(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        integrations({"github": [entry]})


def test_github_urls() -> None:
    parsed = parse_github_url("https://github.com/acme/web/blob/main/dir/catalog-info.yaml")
    assert (parsed.owner, parsed.repo, parsed.kind, parsed.ref, parsed.path) == (
        "acme",
        "web",
        "blob",
        "main",
        "dir/catalog-info.yaml",
    )
    assert parsed.prefix == "https://github.com/acme/web/blob/main"
    tree = parse_github_url("https://github.com/acme/web")
    assert tree.repo == "web"
    assert tree.ref is None
    assert tree.path == ""
    owner = parse_github_url("https://github.com/acme")
    assert owner.repo is None
    with pytest.raises(InputError):
        parse_github_url("https://github.com/acme/web/blob")


def test_gitlab_urls_with_and_without_the_dash_and_under_a_sub_path() -> None:
    parsed = parse_gitlab_url(
        "https://git.example.com/gitlab/group/sub/proj/-/blob/main/a/b.yaml",
        "https://git.example.com/gitlab",
    )
    assert (parsed.project, parsed.ref, parsed.path) == ("group/sub/proj", "main", "a/b.yaml")
    assert parsed.project_url == "https://git.example.com/gitlab/group/sub/proj"
    old = parse_gitlab_url("https://gitlab.com/group/proj/blob/dev/x.yaml", "https://gitlab.com")
    assert (old.project, old.ref, old.path) == ("group/proj", "dev", "x.yaml")
    with pytest.raises(InputError, match="must start with"):
        parse_gitlab_url("https://git.example.com/group/proj", "https://git.example.com/gitlab")


@pytest.mark.parametrize(
    "path",
    ["a/../b", "../x", "a/%2e%2e/b", "a/%252e%252e/b", "a/./b", "a/%2E%2E%2Fsecret", "a\\..\\b"],
)
def test_path_traversal_is_refused(path: str) -> None:
    with pytest.raises(InputError, match="path traversal is not allowed"):
        decode_file_path(path)
    with pytest.raises(InputError, match="path traversal is not allowed"):
        parse_github_url(f"https://github.com/acme/web/blob/main/{path}")


def test_resolve_url_against_a_github_file() -> None:
    registry = integrations({})
    base = "https://github.com/acme/web/blob/main/dir/catalog-info.yaml"
    assert registry.resolve_url("./other.yaml", base) == (
        "https://github.com/acme/web/tree/main/dir/other.yaml"
    )
    assert registry.resolve_url("/root.yaml", base) == (
        "https://github.com/acme/web/tree/main/root.yaml"
    )
    assert registry.resolve_url("https://x.example.com/a", base) == "https://x.example.com/a"


def test_bitbucket_server_config_and_urls() -> None:
    registry = integrations(
        {"bitbucketServer": [{"host": "bitbucket.example.com", "username": "u", "password": "p"}]}
    )
    entry = registry.bitbucket_server.by_host("bitbucket.example.com")
    assert entry is not None
    assert entry.api_base_url == "https://bitbucket.example.com/rest/api/1.0"
    assert entry.headers == {"Authorization": "Basic dTpw"}
    assert registry.by_url("https://bitbucket.example.com/projects/P/repos/r") is entry
    with pytest.raises(InputError, match="host"):
        integrations({"bitbucketServer": [{}]})
    parsed = parse_bitbucket_server_url(
        "https://bitbucket.example.com/projects/PRJ/repos/web/browse/a/b.yaml?at=refs/heads/dev"
    )
    assert (parsed.project, parsed.repo, parsed.ref, parsed.branch, parsed.path) == (
        "PRJ",
        "web",
        "refs/heads/dev",
        "dev",
        "a/b.yaml",
    )
    with pytest.raises(InputError):
        parse_bitbucket_server_url("https://bitbucket.example.com/scm/prj/web.git")


def test_the_schema_marks_every_credential_secret() -> None:
    schema = ConfigSchema.from_entry_points()
    data = {
        "integrations": {
            "github": [
                {
                    "host": "ghe.example.com",
                    "token": "pat",
                    "apps": [
                        {
                            "appId": 1,
                            "privateKey": "key",
                            "clientId": "id",
                            "clientSecret": "secret",
                            "webhookSecret": "hook",
                        }
                    ],
                }
            ],
            "gitlab": [{"host": "gitlab.example.com", "token": "glpat"}],
            "bitbucketServer": [{"host": "bb.example.com", "password": "pw", "token": "bb"}],
        }
    }
    masked = schema.mask_secrets(data)["integrations"]
    github = masked["github"][0]
    assert github["token"] == "<secret>"
    app = github["apps"][0]
    assert [app["privateKey"], app["clientSecret"], app["webhookSecret"]] == ["<secret>"] * 3
    assert app["clientId"] == "id"
    assert masked["gitlab"][0]["token"] == "<secret>"
    assert masked["bitbucketServer"][0]["password"] == "<secret>"
    assert masked["bitbucketServer"][0]["token"] == "<secret>"
    assert schema.filter_by_visibility(data, ["frontend"]) == {}


def test_azure_config_credentials_and_urls() -> None:
    registry = integrations(
        {
            "azure": [
                {
                    "host": "dev.azure.com",
                    "credentials": [
                        {"personalAccessToken": "org-pat", "organizations": ["Contoso"]},
                        {"personalAccessToken": "any-pat"},
                    ],
                }
            ]
        }
    )
    entry = registry.azure.by_host("dev.azure.com")
    assert entry is not None
    chosen = entry.credential_for("contoso")
    assert chosen is not None
    assert chosen.personal_access_token == "org-pat"
    fallback = entry.credential_for("fabrikam")
    assert fallback is not None
    assert fallback.personal_access_token == "any-pat"
    assert "pat" not in repr(chosen)
    for bad in (
        {"token": "x"},
        {"credentials": [{"clientId": "a", "clientSecret": "b", "tenantId": "c"}]},
        {"credentials": [{"personalAccessToken": "a"}, {"personalAccessToken": "b"}]},
        {"credentials": [{"personalAccessToken": "a", "extra": 1}]},
    ):
        with pytest.raises(InputError):
            integrations({"azure": [bad]})
    parsed = parse_azure_url(
        "https://dev.azure.com/org/proj/_git/repo?path=/a/b.yaml&version=GTv1.0"
    )
    assert (parsed.organization, parsed.project, parsed.repo, parsed.path) == (
        "org",
        "proj",
        "repo",
        "a/b.yaml",
    )
    assert (parsed.ref, parsed.ref_type) == ("v1.0", "tag")
    short = parse_azure_url("https://dev.azure.com/org/_git/repo")
    assert (short.project, short.ref) == ("repo", None)
    with pytest.raises(InputError, match="GB or GT"):
        parse_azure_url("https://dev.azure.com/org/proj/_git/repo?version=main")
    with pytest.raises(InputError, match="path traversal"):
        parse_azure_url("https://dev.azure.com/org/proj/_git/repo?path=/a/../../b")
