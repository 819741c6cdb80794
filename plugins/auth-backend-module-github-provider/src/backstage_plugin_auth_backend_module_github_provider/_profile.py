"""The GitHub user's profile, read from the authenticated-user endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backstage_common.errors import AuthenticationError

__all__ = ["GithubProfile"]


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class GithubProfile:
    """The signed-in GitHub user, named as Backstage's passport profile names them.

    Args:
        id: the numeric user id, as text.
        node_id: the GraphQL node id (what the `github.com/user-id` annotation holds).
        username: the login.
        display_name: the user's name, if set.
        email: the public email address, if any.
        avatar_url: the avatar's URL.
        profile_url: the user's page.
        json: the endpoint's whole answer.
    """

    id: str
    node_id: str | None
    username: str
    display_name: str | None = None
    email: str | None = None
    avatar_url: str | None = None
    profile_url: str | None = None
    json: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_user_json(cls, data: object) -> GithubProfile:
        """Parse `GET /user`; an answer without `id` and `login` is refused.

        Args:
            data: the decoded JSON answer.
        """
        if not isinstance(data, dict):
            raise AuthenticationError("GitHub's user endpoint did not describe a user")
        user_id = data.get("id")
        login = _text(data, "login")
        if isinstance(user_id, bool) or not isinstance(user_id, int | str) or login is None:
            raise AuthenticationError("GitHub's user endpoint did not describe a user")
        return cls(
            id=str(user_id),
            node_id=_text(data, "node_id"),
            username=login,
            display_name=_text(data, "name"),
            email=_text(data, "email"),
            avatar_url=_text(data, "avatar_url"),
            profile_url=_text(data, "html_url"),
            json=data,
        )
