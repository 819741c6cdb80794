"""A browser's part in a sign-in, played by an httpx client: it follows redirects one by
one, fills the identity provider's login form and submits its consent form, keeps cookies
(like a browser, per host and not per port), and reads the popup page the auth plugin
answers with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urljoin

import httpx

__all__ = ["Form", "SignInStop", "browse", "popup_message"]

_MAX_STEPS = 25
_POPUP_DATA = re.compile(r"var authResponse = decodeURIComponent\('([^']*)'\);")
_POPUP_ORIGIN = re.compile(r"var origin = decodeURIComponent\('([^']*)'\);")


@dataclass
class Form:
    """An HTML form: where it posts and its fields."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").lower()))
        elif tag == "input" and self.forms and "name" in values:
            self.forms[-1].fields[values["name"]] = values.get("value", "")


def _forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


@dataclass(frozen=True)
class SignInStop:
    """Where `browse` stopped: the URL it was about to open (when `stop_at` matched), or
    the last response (a page without a form it knows, or an error)."""

    url: str | None = None
    response: httpx.Response | None = None


async def browse(
    client: httpx.AsyncClient,
    url: str,
    *,
    stop_at: str | None = None,
    credentials: Mapping[str, str] | None = None,
) -> SignInStop:
    """Open `url` and go on as a user signing in would.

    Redirects are followed one at a time; a redirect to a URL starting with `stop_at` is
    not followed (its URL is returned). A page with the IdP's login form is submitted with
    `credentials` (default: login `jane`), a consent form is submitted as it is.
    """
    login = dict(credentials or {"login": "jane", "password": "any-password"})
    response = await client.get(url)
    for _ in range(_MAX_STEPS):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if stop_at is not None and target.startswith(stop_at):
                return SignInStop(url=target)
            response = await client.get(target)
            continue
        forms = _forms(response.text) if "html" in response.headers.get("content-type", "") else []
        prompts = [form for form in forms if "prompt" in form.fields]
        if response.status_code != 200 or not prompts:
            return SignInStop(response=response)
        form = prompts[0]
        if form.fields["prompt"] == "login":
            form.fields.update(login)
        response = await client.post(urljoin(str(response.url), form.action), data=form.fields)
    raise AssertionError(f"the sign-in did not end within {_MAX_STEPS} steps")


def popup_message(response: httpx.Response) -> tuple[dict[str, Any], str]:
    """The message the popup page posts to the app, and the origin it posts it to."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html"), response.headers
    data = _POPUP_DATA.search(response.text)
    origin = _POPUP_ORIGIN.search(response.text)
    assert data is not None, response.text
    assert origin is not None, response.text
    message: dict[str, Any] = json.loads(unquote(data.group(1)))
    return message, unquote(origin.group(1))
