"""Drives the OAuth routes as a browser would, cookies kept by hand so every test says
exactly which cookies each request carries."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlsplit

import httpx

__all__ = ["Browser", "SetCookie", "decode_state", "popup_message", "set_cookies"]


@dataclass(frozen=True)
class SetCookie:
    name: str
    value: str
    attributes: dict[str, str]

    @property
    def flags(self) -> set[str]:
        return {key.lower() for key in self.attributes}


def set_cookies(response: httpx.Response) -> dict[str, SetCookie]:
    found: dict[str, SetCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *rest = header.split("; ")
        name, _, value = first.partition("=")
        attributes = {}
        for part in rest:
            key, _, attr = part.partition("=")
            attributes[key] = attr
        found[name] = SetCookie(name, unquote(value), attributes)
    return found


def decode_state(location: str) -> tuple[str, dict[str, str]]:
    state = parse_qs(urlsplit(location).query)["state"][0]
    return state, dict(parse_qsl(bytes.fromhex(state).decode()))


def popup_message(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The target origin and the message the popup page posts, after checking the CSP
    hash covers exactly its script."""
    body = response.text
    script = re.fullmatch(r"<html><body><script>(.*)</script></body></html>", body, re.S)
    assert script is not None, body
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert response.headers["content-security-policy"] == f"script-src 'sha256-{digest}'"
    assert response.headers["x-frame-options"] == "sameorigin"
    data = re.search(r"var authResponse = decodeURIComponent\('([^']*)'\);", body)
    origin = re.search(r"var origin = decodeURIComponent\('([^']*)'\);", body)
    assert data is not None
    assert origin is not None
    return unquote(origin.group(1)), json.loads(unquote(data.group(1)))


class Browser:
    """Requests to one backend with explicit cookies and no cookie jar."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if cookies:
            sent["cookie"] = "; ".join(f"{k}={quote(v, safe='')}" for k, v in cookies.items())
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            return await client.request(method, path, params=params, headers=sent)
