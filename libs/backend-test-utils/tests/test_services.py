"""Where a test's server comes from: the variable's URL, else testcontainers where a Docker
engine answers, else a skip (a failure under BACKSTAGE_TEST_REQUIRE_SERVICES=1).

No Docker engine runs on this project's machines: the containers are built here (not
started), the engine probe is asked against a loopback server speaking the Engine API's
ping and against nothing, and the decision is the real one."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from backstage_backend_test_utils import (
    CONTAINERS,
    REQUIRE_SERVICES_ENV,
    ServiceSource,
    choose_service_source,
    docker_engine_running,
    require_service_url,
)

POSTGRES, REDIS, MEMCACHED = (
    "BACKSTAGE_TEST_POSTGRES_URL",
    "BACKSTAGE_TEST_REDIS_URL",
    "BACKSTAGE_TEST_MEMCACHED_URL",
)


class _Probe:
    """Answers whether Docker runs, and counts the questions."""

    def __init__(self, running: bool) -> None:
        self.running = running
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.running


@pytest.mark.parametrize("docker", [True, False])
def test_the_variable_wins_and_docker_is_then_never_asked(docker: bool) -> None:
    probe = _Probe(docker)
    for name in (POSTGRES, REDIS, MEMCACHED):
        environ = {name: "redis://elsewhere:6379"}
        assert choose_service_source(name, environ, docker_running=probe) is ServiceSource.ENV
    assert probe.asked == 0


def test_without_the_variable_a_running_engine_means_a_container() -> None:
    for name in (POSTGRES, REDIS, MEMCACHED):
        assert choose_service_source(name, {}, docker_running=_Probe(True)) is ServiceSource.DOCKER
        blank = {name: "  "}  # an empty variable is no URL
        assert (
            choose_service_source(name, blank, docker_running=_Probe(True)) is ServiceSource.DOCKER
        )


def test_without_the_variable_or_an_engine_the_server_is_missing() -> None:
    for name in (POSTGRES, REDIS, MEMCACHED):
        assert (
            choose_service_source(name, {}, docker_running=_Probe(False)) is ServiceSource.MISSING
        )


def test_a_server_no_container_can_stand_for_is_missing_even_with_docker() -> None:
    probe = _Probe(True)
    assert (
        choose_service_source("BACKSTAGE_TEST_LDAP_URL", {}, docker_running=probe)
        is ServiceSource.MISSING
    )
    assert probe.asked == 0


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert docker_engine_running(refresh=True) is False
    yield
    monkeypatch.undo()
    docker_engine_running(refresh=True)  # the machine's own answer again


def test_the_engine_probe_says_no_when_nothing_answers(no_docker: None) -> None:
    assert docker_engine_running() is False


class _EngineApi(BaseHTTPRequestHandler):
    """The two calls a Docker client makes to find an engine: its version, then a ping."""

    def do_GET(self) -> None:  # the stdlib's name
        if self.path.endswith("/version"):
            body = json.dumps({"ApiVersion": "1.43", "Version": "24.0.0"}).encode()
            content_type = "application/json"
        elif self.path.endswith("/_ping"):
            body, content_type = b"OK", "text/plain"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_engine_probe_says_yes_when_an_engine_api_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EngineApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.server_address[1]}")
        assert docker_engine_running(refresh=True) is True
        assert docker_engine_running() is True  # remembered
    finally:
        server.shutdown()
        server.server_close()
        monkeypatch.undo()
        docker_engine_running(refresh=True)


def test_missing_server_skips_with_the_reason(
    no_docker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REDIS, raising=False)
    monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Docker engine runs"):
        require_service_url(REDIS)


def test_missing_server_fails_where_services_are_required(
    no_docker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MEMCACHED, raising=False)
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_SERVICES_ENV}=1 requires it"):
        require_service_url(MEMCACHED)


def test_the_variable_is_used_as_given(no_docker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REDIS, " redis://cache.example:6390 ")
    assert require_service_url(REDIS) == "redis://cache.example:6390"


# Built, never started: with an explicit API version the Docker client asks no engine.
_OFFLINE = {"docker_client_kw": {"version": "1.41"}}


def test_the_containers_are_testcontainers_own_with_the_servers_ports() -> None:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer
    from testcontainers.core.container import DockerContainer

    expected = {POSTGRES: PostgresContainer, REDIS: RedisContainer, MEMCACHED: DockerContainer}
    for name, kind in expected.items():
        spec = CONTAINERS[name]
        container = spec.create(spec, **_OFFLINE)
        assert type(container) is kind
        assert container.image == spec.image
        assert str(spec.port) in container.ports  # exposed, mapped to a free host port
    memcached = CONTAINERS[MEMCACHED].create(CONTAINERS[MEMCACHED], **_OFFLINE)
    assert memcached._wait_strategy is not None  # start() returns once the port answers


def test_postgres_container_credentials_match_its_url() -> None:
    spec = CONTAINERS[POSTGRES]
    container = spec.create(spec, **_OFFLINE)
    container._configure()  # what start() does first: the server's user and password
    url = urlsplit(spec.url("127.0.0.1", 49153))
    assert (url.scheme, url.hostname, url.port) == ("postgresql", "127.0.0.1", 49153)
    assert url.username == container.env["POSTGRES_USER"]
    assert url.password == container.env["POSTGRES_PASSWORD"]
    assert url.path == "/" + container.env["POSTGRES_DB"]


def test_urls_are_in_each_variables_form() -> None:
    assert CONTAINERS[REDIS].url("10.0.0.5", 32768) == "redis://10.0.0.5:32768"
    assert CONTAINERS[MEMCACHED].url("10.0.0.5", 32769) == "10.0.0.5:32769"
