"""Real servers for tests: from an environment variable, else from testcontainers where a
Docker engine runs, else the test is skipped (or fails in CI).

The order, for `BACKSTAGE_TEST_POSTGRES_URL`, `BACKSTAGE_TEST_REDIS_URL` and
`BACKSTAGE_TEST_MEMCACHED_URL`: the variable's URL when it is set; otherwise, when a Docker
engine answers, a container started with testcontainers (once per test process, stopped
when it exits; the variable is then set to its URL, so processes the tests start find the
same server); otherwise a skip with the reason, or a failure under
`BACKSTAGE_TEST_REQUIRE_SERVICES=1`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NoReturn

import pytest

__all__ = [
    "CONTAINERS",
    "REQUIRE_SERVICES_ENV",
    "ContainerSpec",
    "ServiceSource",
    "choose_service_source",
    "docker_engine_running",
    "require_service_url",
]

REQUIRE_SERVICES_ENV = "BACKSTAGE_TEST_REQUIRE_SERVICES"


@dataclass(frozen=True)
class ContainerSpec:
    """How to run one kind of server in a container, and the URL the tests read for it."""

    image: str
    port: int
    """The port the server listens on inside the container."""
    create: Callable[..., Any]
    """`create(spec, **options)` builds the (not yet started) testcontainers container;
    `options` go to the container class (`docker_client_kw`, ...)."""
    url: Callable[[str, int], str]
    """The URL for the container's host and mapped port, in the variable's own form."""


def _postgres(spec: ContainerSpec, **options: Any) -> Any:
    from testcontainers.community.postgres import PostgresContainer

    return PostgresContainer(
        spec.image,
        port=spec.port,
        username="postgres",
        password="postgres",
        dbname="postgres",
        driver=None,
        **options,
    )


def _redis(spec: ContainerSpec, **options: Any) -> Any:
    from testcontainers.community.redis import RedisContainer

    return RedisContainer(spec.image, port=spec.port, **options)


def _memcached(spec: ContainerSpec, **options: Any) -> Any:
    # testcontainers' MemcachedContainer waits with a decorator it deprecates (a warning,
    # which the test settings make an error): a generic container waiting for the port
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import PortWaitStrategy

    container = DockerContainer(spec.image, **options).with_exposed_ports(spec.port)
    return container.waiting_for(PortWaitStrategy(spec.port))


CONTAINERS: Mapping[str, ContainerSpec] = {
    "BACKSTAGE_TEST_POSTGRES_URL": ContainerSpec(
        image="postgres:15-alpine",
        port=5432,
        create=_postgres,
        url=lambda host, port: f"postgresql://postgres:postgres@{host}:{port}/postgres",
    ),
    "BACKSTAGE_TEST_REDIS_URL": ContainerSpec(
        image="redis:7-alpine",
        port=6379,
        create=_redis,
        url=lambda host, port: f"redis://{host}:{port}",
    ),
    "BACKSTAGE_TEST_MEMCACHED_URL": ContainerSpec(
        image="memcached:1.6-alpine",
        port=11211,
        create=_memcached,
        url=lambda host, port: f"{host}:{port}",
    ),
}
"""The servers testcontainers can start, by the variable that names them."""


class ServiceSource(Enum):
    """Where a test's server comes from."""

    ENV = "env"
    DOCKER = "docker"
    MISSING = "missing"


def choose_service_source(
    env_name: str, environ: Mapping[str, str], *, docker_running: Callable[[], bool]
) -> ServiceSource:
    """The variable's URL first; then a container, for a server testcontainers can start
    and only when `docker_running()` says an engine answers; else none.

    Args:
        env_name: The variable naming the server (`BACKSTAGE_TEST_REDIS_URL`, ...).
        environ: The environment to read it from.
        docker_running: Asked only when the variable is unset and a container could help.
    """
    if environ.get(env_name, "").strip():
        return ServiceSource.ENV
    if env_name in CONTAINERS and docker_running():
        return ServiceSource.DOCKER
    return ServiceSource.MISSING


_docker_answer: bool | None = None
_DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def _unix_socket_answers(docker_host: str) -> bool:
    """For a `unix://` engine address, whether anything listens on the socket (Docker's
    client leaves its socket open when the connection is refused); True for others."""
    if not docker_host.startswith("unix://"):
        return True
    path = docker_host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(3)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def docker_engine_running(*, refresh: bool = False) -> bool:
    """Whether a Docker engine answers a ping (at `DOCKER_HOST`, or the default socket);
    asked once per process unless `refresh`.

    Args:
        refresh: Ask the engine again instead of reusing the first answer.
    """
    global _docker_answer
    if _docker_answer is None or refresh:
        _docker_answer = False
        if _unix_socket_answers(os.environ.get("DOCKER_HOST") or _DEFAULT_DOCKER_HOST):
            try:
                import docker  # type: ignore[import-untyped]

                # a fixed API version: no version request before the ping
                client = docker.from_env(timeout=3, version="1.41")
                try:
                    _docker_answer = bool(client.ping())
                finally:
                    client.close()
            except Exception:  # no engine, no permission: no Docker
                _docker_answer = False
    return _docker_answer


_started: dict[str, str] = {}


def _stop_at_exit(container: Any) -> None:
    def stop() -> None:
        # the engine may be gone already; testcontainers' reaper removes the container then
        with contextlib.suppress(Exception):
            container.stop()

    atexit.register(stop)


def _container_url(env_name: str) -> str:
    """Start the container for `env_name` once per process and return its URL."""
    url = _started.get(env_name)
    if url is None:
        spec = CONTAINERS[env_name]
        container = spec.create(spec)
        container.start()
        _stop_at_exit(container)
        url = spec.url(
            container.get_container_host_ip(), int(container.get_exposed_port(spec.port))
        )
        _started[env_name] = url
        os.environ[env_name] = url
    return url


def _missing(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_SERVICES_ENV}=1 requires it")
    pytest.skip(reason)


def require_service_url(env_name: str) -> str:
    """The URL of a real server for `env_name` (e.g. `BACKSTAGE_TEST_REDIS_URL`).

    The variable's URL when set; else, where a Docker engine runs, a testcontainers
    container's (started once per test process); else the test is skipped with the reason,
    or fails when `BACKSTAGE_TEST_REQUIRE_SERVICES=1` (as in CI), so a missing server never
    passes silently.

    Args:
        env_name: The variable naming the server.
    """
    source = choose_service_source(env_name, os.environ, docker_running=docker_engine_running)
    if source is ServiceSource.ENV:
        return os.environ[env_name].strip()
    if source is ServiceSource.DOCKER:
        try:
            return _container_url(env_name)
        except Exception as error:
            _missing(f"{env_name} is not set and its container did not start ({error})")
    _missing(f"{env_name} is not set and no Docker engine runs: this test needs a real server")
