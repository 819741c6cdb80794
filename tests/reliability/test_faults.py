"""A catalog unit (a real process, auth on) with TCP fault proxies between it and Postgres
and Redis: outages of each, as a server that went away (refuse) and as a partition
(blackhole), then recovery without a restart.

- Redis down: the catalog keeps serving, within the cache timeout, and stays ready (the
  cache service itself under the same faults: `test_cache_faults.py`).
- Postgres down: requests answer 503 `ServiceUnavailableError` with a generic message, in a
  bounded time (not 500, not hanging), readiness is 503; once the database is back every
  request answers 200 again."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.deploy._processes import wait_until
from tests.deploy._units import UnitProcess

from ._catalog import Cluster, cluster, example_refs, fault_proxy

# The database limits of the unit (Backstage's knex and pg names, milliseconds), short so
# that the test is; the defaults are longer.
DATABASE_LIMITS = {
    "acquireConnectionTimeout": 3000,
    "connection": {
        "connectionTimeoutMillis": 3000,
        "statement_timeout": 3000,
        "query_timeout": 5000,
    },
}
# A request during an outage must end within this: a partitioned connection is given up
# after query_timeout, a new one after connectionTimeoutMillis, a pooled one after
# acquireConnectionTimeout; a hang is what this catches.
OUTAGE_ANSWER_BOUND = 15.0
# Recovery after the server is back: the pool's next connections succeed.
RECOVERY_BOUND = 30.0
CACHE_TIMEOUT_MS = 500
SHUTDOWN_TIMEOUT_S = 5


# One request of each kind a client makes: by name, lists, queries, facets, locations.
REQUESTS: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "/api/catalog/entities/by-name/component/default/checkout-service", {}),
    ("GET", "/api/catalog/entities", {"params": {"filter": "kind=user"}}),
    ("GET", "/api/catalog/entities/by-query", {"params": {"limit": "5"}}),
    ("POST", "/api/catalog/entities/by-refs", {"json": {"entityRefs": ["user:default/x"]}}),
    ("GET", "/api/catalog/entity-facets", {"params": {"facet": "kind"}}),
    ("GET", "/api/catalog/locations", {}),
]


def _send(
    unit: UnitProcess, cluster: Cluster, method: str, path: str, extra: dict[str, object]
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    try:
        response = httpx.request(
            method,
            f"{unit.url}{path}",
            headers=cluster.headers,
            timeout=OUTAGE_ANSWER_BOUND + 5,
            **extra,  # type: ignore[arg-type]
        )
    except httpx.TimeoutException as error:
        raise AssertionError(
            f"{method} {path}: no answer within {OUTAGE_ANSWER_BOUND} s"
        ) from error
    return response, time.monotonic() - started


def _send_quietly(
    unit: UnitProcess, cluster: Cluster, request: tuple[str, str, dict[str, object]]
) -> int | None:
    """The status, or None when the connection closed without one."""
    method, path, extra = request
    try:
        return _send(unit, cluster, method, path, extra)[0].status_code
    except httpx.TransportError:
        return None


def _readiness(unit: UnitProcess) -> httpx.Response:
    return httpx.get(f"{unit.url}/.backstage/health/v1/readiness", timeout=OUTAGE_ANSWER_BOUND + 5)


def _assert_all_ok(unit: UnitProcess, cluster: Cluster, bound: float = OUTAGE_ANSWER_BOUND) -> None:
    for method, path, extra in REQUESTS:
        response, took = _send(unit, cluster, method, path, extra)
        assert response.status_code == 200, (method, path, response.text, cluster.describe())
        assert took < bound, (method, path, took)


def _assert_unavailable(unit: UnitProcess, cluster: Cluster, fault: str) -> None:
    # All at once: each may take up to the bound, the outage need not last their sum.
    with ThreadPoolExecutor(max_workers=len(REQUESTS) + 1) as pool:
        ready = pool.submit(_readiness, unit)
        answers = list(
            pool.map(lambda request: (request, _send(unit, cluster, *request)), REQUESTS)
        )
    for (method, path, _), (response, took) in answers:
        what = (fault, method, path, response.status_code, response.text)
        assert response.status_code == 503, what
        assert took < OUTAGE_ANSWER_BOUND, (*what, took)
        body = response.json()
        assert body["error"]["name"] == "ServiceUnavailableError", what
        assert body["response"] == {"statusCode": 503}, what
        # Generic: no driver, pool or socket internals reach the client.
        message = str(body["error"]["message"]).lower()
        for internal in ("refused", "sqlalchemy", "asyncpg", "queuepool", "sqlalche.me", "errno"):
            assert internal not in message, what
    assert ready.result().status_code == 503, (fault, ready.result().text)


def _wait_all_ok(unit: UnitProcess, cluster: Cluster, what: str) -> None:
    def healthy() -> bool:
        if _readiness(unit).status_code != 200:
            return False
        return all(
            _send(unit, cluster, method, path, extra)[0].status_code == 200
            for method, path, extra in REQUESTS
        )

    wait_until(
        healthy, what, alive=[unit.running()], timeout=RECOVERY_BOUND, describe=cluster.describe
    )


def test_database_and_cache_outages(tmp_path: Path) -> None:
    with (
        cluster(tmp_path) as nodes,
        fault_proxy(nodes.postgres_url, 5432) as database,
        fault_proxy(nodes.redis_url, 6379) as cache,
    ):
        unit = nodes.add_unit(
            postgres=("127.0.0.1", database.port),
            redis_url=f"redis://127.0.0.1:{cache.port}",
            config={
                "backend": {
                    "cache": {"timeout": CACHE_TIMEOUT_MS},
                    "database": DATABASE_LIMITS,
                    "lifecycle": {"shutdownTimeout": f"{SHUTDOWN_TIMEOUT_S}s"},
                },
                "catalog": {"processingInterval": {"seconds": 5}},
            },
        )
        unit.start()
        unit.wait_ready()
        nodes.wait_served(unit, example_refs())
        _assert_all_ok(unit, nodes)

        # Redis goes away, then is partitioned: the catalog keeps answering, at worst a
        # cache timeout later.
        for fault in (cache.refuse, cache.blackhole):
            fault()
            _assert_all_ok(unit, nodes, bound=CACHE_TIMEOUT_MS / 1000 + 5)
            assert _readiness(unit).status_code == 200, fault.__name__
        cache.restore()
        _assert_all_ok(unit, nodes)

        # Postgres goes away, then is partitioned (pooled connections included): 503
        # within the bound, readiness 503; back to 200 without a restart.
        for fault in (database.refuse, database.blackhole):
            fault()
            _assert_unavailable(unit, nodes, fault.__name__)
            database.restore()
            _wait_all_ok(unit, nodes, f"recovery after a database {fault.__name__}")

        # Both at once, then back: still recovers.
        cache.blackhole()
        database.blackhole()
        _assert_unavailable(unit, nodes, "database and cache blackhole")
        database.restore()
        cache.restore()
        _wait_all_ok(unit, nodes, "recovery after both outages")

        # A shutdown during a partition, with a request waiting on the database, ends
        # within shutdownTimeout (the request gets its answer or the connection closes).
        database.blackhole()
        process = unit.running()
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(_send_quietly, unit, nodes, REQUESTS[0])
            time.sleep(0.5)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=SHUTDOWN_TIMEOUT_S + 10)
            finally:
                took = time.monotonic() - started
                database.restore()
            assert waiting.result() in (503, None), waiting.result()
        assert process.returncode == 0, unit.tail()
        assert took < SHUTDOWN_TIMEOUT_S + 10, took
