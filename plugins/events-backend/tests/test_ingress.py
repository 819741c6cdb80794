"""`POST /api/events/http/<topic>`: routes, body handling, and the GitHub and GitLab
webhook checks, against a running backend; what each request published is recorded by a
subscriber plugin."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from backstage_backend_test_utils import TestBackend, start_test_backend
from backstage_plugin_events_backend import events_features

from ._probe import Recorder, probe_plugin

GITHUB_SECRET = "github-webhook-secret"
GITLAB_SECRET = "gitlab-webhook-secret"
TOPICS = ["github", "github.push", "gitlab", "gitlab.push", "custom", "open"]
PUSH = {
    "ref": "refs/heads/main",
    "repository": {"html_url": "https://github.com/acme/shop", "full_name": "acme/shop"},
    "commits": [{"added": [], "removed": [], "modified": ["catalog-info.yaml"]}],
}


def sign(body: bytes, secret: str = GITHUB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(body: bytes, **extra: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "x-hub-signature-256": sign(body),
        **extra,
    }


@pytest.fixture
async def started() -> AsyncIterator[tuple[TestBackend, Recorder]]:
    recorder = Recorder()
    config: dict[str, Any] = {
        "events": {
            "http": {"topics": ["custom", "github"]},
            "modules": {
                "github": {"webhookSecret": GITHUB_SECRET},
                "gitlab": {"webhookSecret": GITLAB_SECRET},
            },
        }
    }
    features = [*events_features(), probe_plugin(recorder, TOPICS)]
    async with start_test_backend(features=features, config=config) as test:
        yield test, recorder


async def settle() -> None:
    # local delivery is awaited inside the request; this lets nothing else slip in
    await asyncio.sleep(0.05)


async def test_configured_topic_publishes_body_and_headers(
    started: tuple[TestBackend, Recorder],
) -> None:
    test, recorder = started
    response = await test.client.post(
        "/api/events/http/custom",
        content=b'{"hello": "world"}',
        headers={"content-type": "application/json", "x-custom": "yes"},
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted"}
    (event,) = await recorder.wait_for(1)
    assert event.topic == "custom"
    assert event.event_payload == {"hello": "world"}
    assert event.metadata is not None
    assert event.metadata["x-custom"] == "yes"


async def test_unregistered_topic_has_no_route(started: tuple[TestBackend, Recorder]) -> None:
    test, recorder = started
    response = await test.client.post(
        "/api/events/http/open", content=b"{}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 404
    await settle()
    assert recorder.events == []


async def test_ingress_needs_no_credentials(started: tuple[TestBackend, Recorder]) -> None:
    test, _ = started
    response = await test.client.post(
        "/api/events/http/custom",
        content=b"{}",
        headers={"content-type": "application/json", "authorization": "Bearer garbage"},
    )
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("headers", "body", "status", "name"),
    [
        ({"content-type": "text/plain"}, b"hello", 415, "UnsupportedMediaTypeError"),
        (
            {"content-type": "application/json; charset=no-such-charset"},
            b"{}",
            415,
            "UnsupportedCharsetError",
        ),
        # Backstage answers these two with 500; bad input is a 400 here
        ({}, b"{}", 400, "InputError"),
        ({"content-type": "application/json"}, b"{not json", 400, "InputError"),
        ({"content-type": "application/json"}, b"\xff\xfe{}", 400, "InputError"),
    ],
)
async def test_bodies_refused(
    started: tuple[TestBackend, Recorder],
    headers: dict[str, str],
    body: bytes,
    status: int,
    name: str | None,
) -> None:
    test, recorder = started
    response = await test.client.post("/api/events/http/custom", content=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if name is not None:
        assert error["name"] == name
    if status == 415 and name == "UnsupportedMediaTypeError":
        assert error["message"].startswith("Unsupported media type: text/plain")
    await settle()
    assert recorder.events == []


async def post_while_refused(
    base_url: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, Any]]:
    """POST over a raw connection, reading the answer while the body is still being sent
    (a server refusing a large body answers and closes before reading it all)."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = f"POST {path} HTTP/1.1\r\nhost: {url.host}\r\ncontent-length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode() + body)
            await writer.drain()

    sending = asyncio.create_task(send())
    head_bytes = await reader.readuntil(b"\r\n\r\n")
    lines = head_bytes.decode().split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    answer = await reader.readexactly(length)
    sending.cancel()
    writer.close()
    status_line = lines[0]
    return int(status_line.split()[1]), json.loads(answer)


async def test_body_over_5mb_is_413(started: tuple[TestBackend, Recorder]) -> None:
    test, recorder = started
    body = b'{"x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    status, answer = await post_while_refused(
        test.base_url, "/api/events/http/github", github_headers(body), body
    )
    assert status == 413
    assert answer["error"]["name"] == "PayloadTooLargeError"
    # just under the limit is accepted
    body = b'{"x": "' + b"a" * (5 * 1024 * 1024 - 20) + b'"}'
    response = await test.client.post(
        "/api/events/http/github", content=body, headers=github_headers(body)
    )
    assert response.status_code == 202
    await recorder.wait_for(2)
    recorder.events.clear()
    await settle()
    assert recorder.events == []


async def test_charset_is_honoured(started: tuple[TestBackend, Recorder]) -> None:
    test, recorder = started
    body = json.dumps({"name": "Zoë"}, ensure_ascii=False).encode("latin-1")
    response = await test.client.post(
        "/api/events/http/custom",
        content=body,
        headers={"content-type": "application/json; charset=latin-1"},
    )
    assert response.status_code == 202
    (event,) = await recorder.wait_for(1)
    assert event.event_payload == {"name": "Zoë"}


async def test_signed_github_push_is_accepted_and_routed(
    started: tuple[TestBackend, Recorder],
) -> None:
    test, recorder = started
    body = json.dumps(PUSH).encode()
    response = await test.client.post(
        "/api/events/http/github", content=body, headers=github_headers(body)
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted"}
    events = await recorder.wait_for(2)
    assert [e.topic for e in events] == ["github", "github.push"]
    routed = events[1]
    assert routed.event_payload == PUSH
    assert routed.metadata is not None
    assert routed.metadata["x-github-event"] == "push"


ATTACKS = {
    "missing signature": lambda body: {"x-hub-signature-256": None},
    "wrong secret": lambda body: {"x-hub-signature-256": sign(body, "not-the-secret")},
    "body altered after signing": lambda body: {
        "x-hub-signature-256": sign(body.replace(b"main", b"evil"))
    },
    "SHA-1 header only": lambda body: {
        "x-hub-signature-256": None,
        "x-hub-signature": "sha1=" + hmac.new(GITHUB_SECRET.encode(), body, "sha1").hexdigest(),
    },
    "signature without its algorithm": lambda body: {
        "x-hub-signature-256": sign(body).removeprefix("sha256=")
    },
    "truncated signature": lambda body: {"x-hub-signature-256": sign(body)[:-2]},
    "upper-case hex": lambda body: {"x-hub-signature-256": sign(body).upper()},
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_github_attacks_are_refused_and_publish_nothing(
    started: tuple[TestBackend, Recorder], attack: str
) -> None:
    test, recorder = started
    body = json.dumps(PUSH).encode()
    headers: dict[str, Any] = github_headers(body)
    headers.update(ATTACKS[attack](body))
    headers = {name: value for name, value in headers.items() if value is not None}
    response = await test.client.post("/api/events/http/github", content=body, headers=headers)
    assert response.status_code == 403, response.text
    assert response.json() == {"message": "invalid signature"}
    await settle()
    assert recorder.events == []


async def test_github_wrong_content_type_is_415_before_any_publish(
    started: tuple[TestBackend, Recorder],
) -> None:
    test, recorder = started
    body = json.dumps(PUSH).encode()
    response = await test.client.post(
        "/api/events/http/github",
        content=body,
        headers=github_headers(body, **{"content-type": "application/x-www-form-urlencoded"}),
    )
    assert response.status_code == 415
    await settle()
    assert recorder.events == []


async def test_github_replay_is_accepted_as_backstage_does(
    started: tuple[TestBackend, Recorder],
) -> None:
    """GitHub signs the body only (no timestamp), and Backstage keeps no delivery ids: a
    replayed delivery verifies again and is published again. Subscribers must be
    idempotent (a catalog refresh is)."""
    test, recorder = started
    body = json.dumps(PUSH).encode()
    for _ in range(2):
        response = await test.client.post(
            "/api/events/http/github", content=body, headers=github_headers(body)
        )
        assert response.status_code == 202
    events = await recorder.wait_for(4)
    assert [e.topic for e in events] == ["github", "github.push"] * 2


async def test_github_event_without_event_header_is_not_routed(
    started: tuple[TestBackend, Recorder],
) -> None:
    test, recorder = started
    body = b"{}"
    headers = github_headers(body)
    del headers["x-github-event"]
    response = await test.client.post("/api/events/http/github", content=body, headers=headers)
    assert response.status_code == 202
    await settle()
    assert recorder.topics() == ["github"]


GITLAB_PUSH = {
    "object_kind": "push",
    "ref": "refs/heads/main",
    "project": {"web_url": "https://gitlab.com/acme/shop"},
    "commits": [{"added": ["catalog-info.yaml"], "modified": [], "removed": []}],
}


async def test_gitlab_token_accepted_and_routed(started: tuple[TestBackend, Recorder]) -> None:
    test, recorder = started
    response = await test.client.post(
        "/api/events/http/gitlab",
        json=GITLAB_PUSH,
        headers={"x-gitlab-token": GITLAB_SECRET, "x-gitlab-event": "Push Hook"},
    )
    assert response.status_code == 202
    events = await recorder.wait_for(2)
    assert [e.topic for e in events] == ["gitlab", "gitlab.push"]


@pytest.mark.parametrize(
    "token", [None, "", "wrong", GITLAB_SECRET + "x", GITLAB_SECRET[:-1], GITLAB_SECRET.upper()]
)
async def test_gitlab_bad_token_refused(
    started: tuple[TestBackend, Recorder], token: str | None
) -> None:
    test, recorder = started
    headers = {} if token is None else {"x-gitlab-token": token}
    response = await test.client.post("/api/events/http/gitlab", json=GITLAB_PUSH, headers=headers)
    assert response.status_code == 403
    assert response.json() == {"message": "invalid token"}
    await settle()
    assert recorder.events == []


async def test_gitlab_system_hook_routes_by_event_name(
    started: tuple[TestBackend, Recorder],
) -> None:
    test, recorder = started
    response = await test.client.post(
        "/api/events/http/gitlab",
        json={"event_name": "group_create", "group_id": 7},
        headers={"x-gitlab-token": GITLAB_SECRET},
    )
    assert response.status_code == 202
    events = await recorder.wait_for(1)
    await settle()
    assert [e.topic for e in events] == ["gitlab"]  # the probe does not take group_create


async def test_without_secrets_webhook_topics_stay_closed() -> None:
    async with start_test_backend(features=events_features()) as test:
        for topic in ("github", "gitlab"):
            response = await test.client.post(
                f"/api/events/http/{topic}", json={}, headers={"x-gitlab-token": ""}
            )
            assert response.status_code == 404
