"""start_test_backend: a real backend over real HTTP, mock auth, orphan modules, fakes."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Protocol

import httpx
import pytest
from backstage_backend_defaults import BackendFeature
from backstage_backend_plugin_api import (
    BackendModule,
    BackendPlugin,
    ExtensionPoint,
    PluginRegistrationPoints,
    create_backend_module,
    create_backend_plugin,
    create_extension_point,
)
from backstage_backend_plugin_api import core_services as core
from backstage_backend_test_utils import (
    CapturingLogger,
    TestBackend,
    mock_credentials,
    mock_services,
    start_test_backend,
)
from backstage_common.errors import InputError
from litestar import Request, get


def _whoami_plugin(plugin_id: str = "demo") -> BackendPlugin:
    """`/public` needs no credentials; `/whoami` answers with the caller's principal."""

    def register(reg: PluginRegistrationPoints) -> None:
        async def init(router: core.HttpRouter, http_auth: core.HttpAuth) -> None:
            @get("/public")
            async def public() -> dict[str, str]:
                return {"hello": "world"}

            @get("/whoami")
            async def whoami(request: Request[Any, Any, Any]) -> dict[str, Any]:
                credentials = await http_auth.credentials(request)
                principal = credentials.principal
                return {
                    "type": principal.type,
                    "ref": getattr(principal, "user_entity_ref", None),
                    "subject": getattr(principal, "subject", None),
                }

            router.use(public, whoami)
            router.add_auth_policy(path="/public", allow="unauthenticated")

        reg.register_init(init)

    return create_backend_plugin(plugin_id=plugin_id, register=register)


async def test_serves_a_plugin_route_over_real_http() -> None:
    async with start_test_backend(features=[_whoami_plugin()]) as test:
        assert isinstance(test, TestBackend)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", test.base_url)
        assert str(test.client.base_url).rstrip("/") == test.base_url
        response = await test.client.get("/api/demo/public")
        assert response.status_code == 200
        assert response.json() == {"hello": "world"}
        # A separate client proves this is a real socket, not an in-process transport.
        async with httpx.AsyncClient() as other:
            direct = await other.get(f"{test.base_url}/api/demo/public")
        assert direct.json() == {"hello": "world"}
        readiness = await test.client.get("/.backstage/health/v1/readiness")
        assert readiness.status_code == 200
    async with httpx.AsyncClient() as other:
        with pytest.raises(httpx.ConnectError):
            await other.get(f"{test.base_url}/api/demo/public")
    assert test.client.is_closed


async def test_stops_the_backend_when_the_body_raises() -> None:
    base_urls: list[str] = []

    async def body() -> None:
        async with start_test_backend(features=[_whoami_plugin()]) as test:
            base_urls.append(test.base_url)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await body()
    [base_url] = base_urls
    async with httpx.AsyncClient() as other:
        with pytest.raises(httpx.ConnectError):
            await other.get(f"{base_url}/api/demo/public")


async def test_route_requiring_credentials_gives_401_then_200_with_a_user_header() -> None:
    features: list[BackendFeature] = [
        _whoami_plugin(),
        mock_services.http_auth_factory(default_credentials=mock_credentials.none()),
    ]
    async with start_test_backend(features=features) as test:
        missing = await test.client.get("/api/demo/whoami")
        assert missing.status_code == 401
        assert missing.json() == {
            "error": {"name": "AuthenticationError", "message": "Missing credentials"},
            "request": {"method": "GET", "url": "/whoami"},
            "response": {"statusCode": 401},
        }
        ok = await test.client.get("/api/demo/whoami", headers=mock_credentials.user_header())
        assert ok.status_code == 200
        assert ok.json() == {"type": "user", "ref": "user:default/mock", "subject": None}
        other = await test.client.get(
            "/api/demo/whoami", headers=mock_credentials.user_header("user:default/x")
        )
        assert other.json()["ref"] == "user:default/x"


async def test_default_mock_http_auth_treats_a_request_without_token_as_the_mock_user() -> None:
    async with start_test_backend(features=[_whoami_plugin()]) as test:
        anonymous = await test.client.get("/api/demo/whoami")
        assert anonymous.status_code == 200
        assert anonymous.json()["ref"] == "user:default/mock"
        explicit_none = await test.client.get(
            "/api/demo/whoami", headers=mock_credentials.none_header()
        )
        assert explicit_none.status_code == 401
        assert explicit_none.json()["error"]["message"] == "Missing credentials"
        invalid = await test.client.get(
            "/api/demo/whoami", headers=mock_credentials.invalid_user_header()
        )
        assert invalid.status_code == 401
        assert invalid.json()["error"] == {
            "name": "AuthenticationError",
            "message": "Illegal token",
        }


async def test_service_tokens_are_checked_against_the_receiving_plugin() -> None:
    async with start_test_backend(features=[_whoami_plugin()]) as test:
        elsewhere = await test.client.get(
            "/api/demo/whoami", headers=mock_credentials.service_header("plugin:x", "catalog")
        )
        assert elsewhere.status_code == 401
        assert elsewhere.json()["error"]["name"] == "AuthenticationError"
        assert "expected 'demo'" in elsewhere.json()["error"]["message"]
        here = await test.client.get(
            "/api/demo/whoami", headers=mock_credentials.service_header("plugin:x", "demo")
        )
        assert here.status_code == 200
        assert here.json() == {"type": "service", "ref": None, "subject": "plugin:x"}
        default = await test.client.get(
            "/api/demo/whoami", headers=mock_credentials.service_header()
        )
        assert default.json()["subject"] == "external:test-service"


async def test_plugin_request_tokens_reach_the_target_plugin_over_http() -> None:
    async with start_test_backend(
        features=[_whoami_plugin("demo"), _whoami_plugin("other")]
    ) as test:
        auth = await test.get_service(core.auth, "other")
        discovery = await test.get_service(core.discovery, "other")
        token = await auth.get_plugin_request_token(
            on_behalf_of=await auth.get_own_service_credentials(), target_plugin_id="demo"
        )
        url = await discovery.get_base_url("demo")
        assert url == f"{test.base_url}/api/demo"
        headers = {"Authorization": f"Bearer {token.token}"}
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/whoami", headers=headers)
            assert response.json()["subject"] == "plugin:other"
            wrong = await client.get(f"{test.base_url}/api/other/whoami", headers=headers)
            assert wrong.status_code == 401


class Greeter(Protocol):
    def add_greeting(self, text: str) -> None: ...


greeting_extension_point: ExtensionPoint[Greeter] = create_extension_point(id="greeter.greetings")


class FakeGreeter:
    def __init__(self) -> None:
        self.greetings: list[str] = []

    def add_greeting(self, text: str) -> None:
        self.greetings.append(text)


def _greeting_module(on_init: Callable[[], None] = lambda: None) -> BackendModule:
    def register(reg: PluginRegistrationPoints) -> None:
        async def init(
            greeter: Annotated[Greeter, greeting_extension_point], logger: core.Logger
        ) -> None:
            greeter.add_greeting("hello")
            logger.info("greeting added")
            on_init()

        reg.register_init(init)

    return create_backend_module(plugin_id="greeter", module_id="hello", register=register)


async def test_an_orphan_module_starts_alone_against_a_fake_extension_point() -> None:
    fake = FakeGreeter()
    async with start_test_backend(
        features=[_greeting_module()],
        extension_points=[(greeting_extension_point, fake)],
    ) as test:
        assert fake.greetings == ["hello"]
        # The stub plugin is mounted and gated like any other plugin.
        response = await test.client.get("/api/greeter/nothing-here")
        assert response.status_code == 404


async def test_an_orphan_module_without_extension_points_still_initialises() -> None:
    calls: list[str] = []

    def register(reg: PluginRegistrationPoints) -> None:
        async def init(logger: core.Logger) -> None:
            calls.append("init")

        reg.register_init(init)

    module = create_backend_module(plugin_id="lonely", module_id="solo", register=register)
    async with start_test_backend(features=[module]):
        assert calls == ["init"]


async def test_an_extension_point_no_tested_module_uses_is_refused() -> None:
    with pytest.raises(InputError, match=r"greeter\.greetings"):
        async with start_test_backend(
            features=[_whoami_plugin()], extension_points=[(greeting_extension_point, object())]
        ):
            pass


async def test_the_capturing_logger_records_plugin_tagged_entries() -> None:
    async with start_test_backend(
        features=[_greeting_module(), mock_services.root_logger_factory()],
        extension_points=[(greeting_extension_point, FakeGreeter())],
    ) as test:
        root = await test.get_service(core.root_logger)
        assert isinstance(root, CapturingLogger)
        entries = root.matching(plugin="greeter")
        assert [entry.message for entry in entries] == ["greeting added"]
        assert entries[0].level == "info"
        assert entries[0].fields["plugin"] == "greeter"
        assert "Backend started" in root.messages("info")


async def test_config_is_deep_merged_over_the_defaults_and_the_caller_wins() -> None:
    config = {"backend": {"logging": {"level": "error"}}, "app": {"title": "Test"}}
    async with start_test_backend(features=[_whoami_plugin()], config=config) as test:
        root_config = await test.get_service(core.root_config)
        assert root_config.get_string("backend.logging.level") == "error"
        assert root_config.get_string("app.title") == "Test"
        assert root_config.get_string("backend.baseUrl") == test.base_url
        assert root_config.get_string("backend.listen.host") == "127.0.0.1"
        assert test.config["backend"]["listen"]["port"] == int(test.base_url.rsplit(":", 1)[1])


def _database_plugin(plugin_id: str, rows: list[str]) -> BackendPlugin:
    from sqlalchemy import text

    def register(reg: PluginRegistrationPoints) -> None:
        async def init(database: core.Database) -> None:
            engine = await database.get_engine()
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE items (name TEXT NOT NULL)"))
                for row in rows:
                    await connection.execute(
                        text("INSERT INTO items (name) VALUES (:name)"), {"name": row}
                    )

        reg.register_init(init)

    return create_backend_plugin(plugin_id=plugin_id, register=register)


async def test_each_plugin_gets_its_own_database() -> None:
    from sqlalchemy import text

    features = [_database_plugin("one", ["a", "b"]), _database_plugin("two", [])]
    async with start_test_backend(features=features) as test:
        counts = {}
        for plugin_id in ("one", "two"):
            database = await test.get_service(core.database, plugin_id)
            sessions = await database.get_session_factory()
            async with sessions() as session:
                result = await session.execute(text("SELECT count(*) FROM items"))
                counts[plugin_id] = result.scalar_one()
        assert counts == {"one": 2, "two": 0}


async def test_the_scheduler_runs_each_task_once_at_startup() -> None:
    from datetime import timedelta

    from backstage_backend_plugin_api import (
        ManualTrigger,
        SchedulerServiceTaskScheduleDefinition,
    )

    runs: list[str] = []

    def register(reg: PluginRegistrationPoints) -> None:
        async def init(scheduler: core.Scheduler) -> None:
            async def task(abort: Any) -> None:
                runs.append("recurring")

            async def manual(abort: Any) -> None:
                runs.append("manual")

            every_minute = SchedulerServiceTaskScheduleDefinition(
                frequency=timedelta(minutes=1), timeout=timedelta(seconds=10)
            )
            await scheduler.schedule_task(id="recurring", fn=task, schedule=every_minute)
            await scheduler.schedule_task(
                id="manual",
                fn=manual,
                schedule=SchedulerServiceTaskScheduleDefinition(
                    frequency=ManualTrigger(), timeout=timedelta(seconds=10)
                ),
            )
            assert runs == []  # not during init: once the backend has started

        reg.register_init(init)

    plugin = create_backend_plugin(plugin_id="tasks", register=register)
    async with start_test_backend(features=[plugin]) as test:
        assert runs == ["recurring"]
        scheduler = await test.get_service(core.scheduler, "tasks")
        await scheduler.trigger_task("manual")
        assert runs == ["recurring", "manual"]
    assert runs == ["recurring", "manual"]


async def test_the_cache_is_namespaced_per_plugin_in_one_backend() -> None:
    features = [_whoami_plugin("one"), _whoami_plugin("two")]
    async with start_test_backend(features=features) as test:
        one = await test.get_service(core.cache, "one")
        two = await test.get_service(core.cache, "two")
        await one.set("key", {"from": "one"})
        assert await one.get("key") == {"from": "one"}
        assert await two.get("key") is None
