"""The OAuth flow's cookies, with Backstage's names, paths and attributes.

`<provider>-nonce` (path `<provider path>/handler`, ten minutes), `<provider>-refresh-token`
and `<provider>-granted-scope` (path `<provider path>`). Values longer than 4000 characters
are split into `<name>-0`, `<name>-1`, ... as Backstage does. Every cookie is `HttpOnly`;
`Secure` when the callback URL is https; `SameSite=None` only when secure and the app's
host differs from the callback's, else `Lax`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal
from urllib.parse import quote, urlsplit

__all__ = ["CookieSettings", "OAuthCookies"]

NONCE_MAX_AGE_SECONDS = 600
THOUSAND_DAYS_SECONDS = 1000 * 24 * 60 * 60
MAX_COOKIE_SIZE = 4000


@dataclass(frozen=True)
class CookieSettings:
    path: str
    secure: bool
    same_site: Literal["Lax", "None"]


def cookie_settings(*, callback_url: str, provider_id: str, app_origin: str) -> CookieSettings:
    callback = urlsplit(callback_url)
    secure = callback.scheme == "https"
    same_site: Literal["Lax", "None"] = "Lax"
    if secure and urlsplit(app_origin).hostname != callback.hostname:
        same_site = "None"
    suffix = f"{provider_id}/handler/frame"
    path = callback.path
    path = path[: -len("/handler/frame")] if path.endswith(suffix) else f"{path}/{provider_id}"
    return CookieSettings(path=path, secure=secure, same_site=same_site)


def serialize_cookie(
    name: str, value: str, *, settings: CookieSettings, path: str, max_age: int
) -> str:
    # Express's serialisation: the value URI-encoded, Max-Age with a matching Expires
    expires = datetime.now(UTC) + timedelta(seconds=max_age)
    parts = [
        f"{name}={quote(value, safe='')}",
        f"Max-Age={max_age}",
        f"Path={path}",
        f"Expires={format_datetime(expires, usegmt=True)}",
        "HttpOnly",
    ]
    if settings.secure:
        parts.append("Secure")
    parts.append(f"SameSite={settings.same_site}")
    return "; ".join(parts)


class OAuthCookies:
    """Reads a request's flow cookies and writes the `Set-Cookie` headers of a response."""

    def __init__(
        self,
        *,
        provider_id: str,
        callback_url: str,
        default_app_origin: str,
        session_duration_seconds: int | None,
    ) -> None:
        self._provider_id = provider_id
        self._callback_url = callback_url
        self._default_app_origin = default_app_origin
        self.nonce_cookie = f"{provider_id}-nonce"
        self.refresh_cookie = f"{provider_id}-refresh-token"
        self.scope_cookie = f"{provider_id}-granted-scope"
        self._max_age = session_duration_seconds or THOUSAND_DAYS_SECONDS

    def settings(self, origin: str | None) -> CookieSettings:
        return cookie_settings(
            callback_url=self._callback_url,
            provider_id=self._provider_id,
            app_origin=origin or self._default_app_origin,
        )

    @staticmethod
    def read(cookies: Mapping[str, str], name: str) -> str | None:
        chunks: list[str] = []
        while cookies.get(f"{name}-{len(chunks)}"):
            chunks.append(cookies[f"{name}-{len(chunks)}"])
        if chunks:
            return "".join(chunks)
        return cookies.get(name) or None

    def set_nonce(self, headers: list[tuple[str, str]], nonce: str, origin: str | None) -> None:
        settings = self.settings(origin)
        headers.append(
            (
                "set-cookie",
                serialize_cookie(
                    self.nonce_cookie,
                    nonce,
                    settings=settings,
                    path=settings.path + "/handler",
                    max_age=NONCE_MAX_AGE_SECONDS,
                ),
            )
        )

    def set(
        self,
        headers: list[tuple[str, str]],
        cookies: Mapping[str, str],
        name: str,
        value: str,
        origin: str | None,
    ) -> None:
        settings = self.settings(origin)
        existing_chunks = self._count_chunks(cookies, name)
        for index in range(existing_chunks):
            headers.append(("set-cookie", self._removal(f"{name}-{index}", settings)))
        if len(value) <= MAX_COOKIE_SIZE:
            headers.append(("set-cookie", self._cookie(name, value, settings)))
            return
        if cookies.get(name):
            headers.append(("set-cookie", self._removal(name, settings)))
        for index in range(0, len(value), MAX_COOKIE_SIZE):
            chunk = value[index : index + MAX_COOKIE_SIZE]
            headers.append(
                ("set-cookie", self._cookie(f"{name}-{index // MAX_COOKIE_SIZE}", chunk, settings))
            )

    def remove(
        self,
        headers: list[tuple[str, str]],
        cookies: Mapping[str, str],
        name: str,
        origin: str | None,
    ) -> None:
        settings = self.settings(origin)
        if cookies.get(name):
            headers.append(("set-cookie", self._removal(name, settings)))
        for index in range(self._count_chunks(cookies, name)):
            headers.append(("set-cookie", self._removal(f"{name}-{index}", settings)))

    def _cookie(self, name: str, value: str, settings: CookieSettings) -> str:
        return serialize_cookie(
            name, value, settings=settings, path=settings.path, max_age=self._max_age
        )

    @staticmethod
    def _removal(name: str, settings: CookieSettings) -> str:
        return serialize_cookie(name, "", settings=settings, path=settings.path, max_age=0)

    @staticmethod
    def _count_chunks(cookies: Mapping[str, str], name: str) -> int:
        count = 0
        while cookies.get(f"{name}-{count}"):
            count += 1
        return count
