"""The wiring: lazy services once per scope, init order, and every startup error by name."""

from __future__ import annotations

import socket
from typing import Annotated

import pytest
from backstage_backend_defaults import (
    BackendStartupError,
    ServiceInstantiationError,
    create_backend,
)
from backstage_backend_plugin_api import (
    ExtensionPoint,
    PluginRegistrationPoints,
    ServiceFactory,
    ServiceRef,
    core_services,
    create_backend_module,
    create_backend_plugin,
    create_extension_point,
    create_service_factory,
    create_service_ref,
)
from backstage_backend_test_utils import start_test_backend
from backstage_common.errors import ConflictError, InputError

# Refs and extension points used in annotations live at module level: the wiring resolves
# annotations at runtime.
COUNTER: ServiceRef[list[str]] = create_service_ref(id="test.counter")
ROOT_COUNTER: ServiceRef[list[str]] = create_service_ref(id="test.rootCounter", scope="root")
MISSING: ServiceRef[str] = create_service_ref(id="test.missing")
CYCLE_A: ServiceRef[str] = create_service_ref(id="test.a")
CYCLE_B: ServiceRef[str] = create_service_ref(id="test.b")
CYCLE_C: ServiceRef[str] = create_service_ref(id="test.c")
ADDITIONS: ExtensionPoint[list[str]] = create_extension_point(id="demo.additions")
OTHER_ADDITIONS: ExtensionPoint[list[str]] = create_extension_point(id="other.additions")

Counter = Annotated[list[str], COUNTER]
RootCounter = Annotated[list[str], ROOT_COUNTER]


def plugin_with(plugin_id: str, init: object, *points: tuple[ExtensionPoint[list[str]], list[str]]):  # type: ignore[no-untyped-def]
    def register(env: PluginRegistrationPoints) -> None:
        for point, impl in points:
            env.register_extension_point(point, impl)
        env.register_init(init)  # type: ignore[arg-type]

    return create_backend_plugin(plugin_id=plugin_id, register=register)


def module_with(plugin_id: str, module_id: str, init: object):  # type: ignore[no-untyped-def]
    def register(env: PluginRegistrationPoints) -> None:
        env.register_init(init)  # type: ignore[arg-type]

    return create_backend_module(plugin_id=plugin_id, module_id=module_id, register=register)


def counting_factories(built: list[str]) -> list[ServiceFactory[list[str]]]:
    def make_plugin_counter(metadata: core_services.PluginMetadata) -> list[str]:
        built.append(f"plugin:{metadata.get_id()}")
        return [metadata.get_id()]

    def make_root_counter() -> list[str]:
        built.append("root")
        return ["root"]

    return [
        create_service_factory(service=COUNTER, factory=make_plugin_counter),
        create_service_factory(service=ROOT_COUNTER, factory=make_root_counter),
    ]


async def test_services_are_built_lazily_and_once_per_scope() -> None:
    built: list[str] = []
    seen: dict[str, tuple[list[str], list[str]]] = {}

    def recorder(name: str):  # type: ignore[no-untyped-def]
        async def init(counter: Counter, root: RootCounter) -> None:
            seen[name] = (counter, root)

        return init

    async def never(counter: Counter) -> None:  # a factory nobody asks for is never built
        return None

    features = [
        *counting_factories(built),
        plugin_with("first", recorder("first")),
        plugin_with("second", recorder("second")),
        module_with("first", "extra", recorder("first-module")),
    ]
    async with start_test_backend(features=features):
        pass
    assert sorted(built) == ["plugin:first", "plugin:second", "root"]
    assert seen["first"][0] is seen["first-module"][0]  # one instance per plugin
    assert seen["first"][0] is not seen["second"][0]
    assert seen["first"][1] is seen["second"][1]  # one root instance


async def test_an_added_factory_replaces_the_default() -> None:
    def fixed_discovery() -> object:
        class Fixed:
            async def get_base_url(self, plugin_id: str) -> str:
                return f"http://fixed/{plugin_id}"

            async def get_external_base_url(self, plugin_id: str) -> str:
                return f"http://fixed-external/{plugin_id}"

        return Fixed()

    urls: list[str] = []

    async def init(discovery: core_services.Discovery) -> None:
        urls.append(await discovery.get_base_url("catalog"))

    factory = create_service_factory(service=core_services.discovery, factory=fixed_discovery)  # type: ignore[arg-type]
    async with start_test_backend(features=[factory, plugin_with("demo", init)]):
        pass
    assert urls == ["http://fixed/catalog"]


async def test_modules_initialise_before_their_plugin_and_consumers_before_providers() -> None:
    order: list[str] = []
    collected: list[str] = []

    async def plugin_init(logger: core_services.Logger) -> None:
        order.append(f"plugin sees {sorted(collected)}")

    def contributor(name: str):  # type: ignore[no-untyped-def]
        async def init(additions: Annotated[list[str], ADDITIONS]) -> None:
            additions.append(name)
            order.append(name)

        return init

    features = [
        plugin_with("demo", plugin_init, (ADDITIONS, collected)),
        module_with("demo", "one", contributor("one")),
        module_with("demo", "two", contributor("two")),
    ]
    async with start_test_backend(features=features):
        pass
    assert sorted(order[:2]) == ["one", "two"]
    assert order[2] == "plugin sees ['one', 'two']"


async def test_a_missing_dependency_names_the_plugin_and_the_ref() -> None:
    async def init(missing: Annotated[str, MISSING], logger: core_services.Logger) -> None:
        return None

    with pytest.raises(BackendStartupError) as caught:
        async with start_test_backend(features=[plugin_with("needy", init)]):
            pass
    message = str(caught.value)
    assert "Plugin 'needy' startup failed" in message
    assert "serviceRef{test.missing}" in message


async def test_a_factory_with_a_missing_dependency_names_the_service_and_plugin() -> None:
    def make(missing: Annotated[str, MISSING]) -> list[str]:
        return []

    async def init(counter: Counter) -> None:
        return None

    factory = create_service_factory(service=COUNTER, factory=make)
    with pytest.raises(BackendStartupError) as caught:
        async with start_test_backend(features=[factory, plugin_with("needy", init)]):
            pass
    assert (
        "Failed to instantiate service 'test.counter' for 'needy' because the following "
        "dependent services are missing: 'test.missing'"
    ) in str(caught.value)


async def test_a_dependency_cycle_is_reported_whole() -> None:
    def a(b: Annotated[str, CYCLE_B]) -> str:
        return "a"

    def b(c: Annotated[str, CYCLE_C]) -> str:
        return "b"

    def c(a: Annotated[str, CYCLE_A]) -> str:
        return "c"

    factories = [
        create_service_factory(service=CYCLE_A, factory=a),
        create_service_factory(service=CYCLE_B, factory=b),
        create_service_factory(service=CYCLE_C, factory=c),
    ]
    with pytest.raises(ConflictError) as caught:
        async with start_test_backend(features=factories):
            pass
    assert "Circular dependencies detected:\n  'test.a' -> 'test.b' -> 'test.c' -> 'test.a'" in str(
        caught.value
    )


async def test_two_plugins_with_one_id_fail_naming_the_id() -> None:
    async def init(logger: core_services.Logger) -> None:
        return None

    with pytest.raises(BackendStartupError, match=r"Plugin 'twin' is already registered"):
        async with start_test_backend(
            features=[plugin_with("twin", init), plugin_with("twin", init)]
        ):
            pass


async def test_two_factories_for_one_service_fail_naming_the_service() -> None:
    built: list[str] = []
    first, _ = counting_factories(built)
    second, _ = counting_factories(built)
    with pytest.raises(
        ConflictError, match=r"Duplicate service implementations provided for 'test.counter'"
    ):
        async with start_test_backend(features=[first, second]):
            pass


async def test_a_module_for_an_absent_plugin_fails_naming_both() -> None:
    async def init(logger: core_services.Logger) -> None:
        return None

    # start_test_backend would give the orphan module a stub plugin, as Backstage's does
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = create_backend(
        config_data={"backend": {"baseUrl": "http://localhost", "listen": f"127.0.0.1:{port}"}}
    )
    backend.add(module_with("ghost", "helper", init))
    with pytest.raises(BackendStartupError) as caught:
        await backend.start()
    message = str(caught.value)
    assert "Module 'helper' for plugin 'ghost' startup failed" in message
    assert "the plugin 'ghost' is not installed in this backend" in message


async def test_a_root_factory_asking_for_a_plugin_service_is_refused_by_name() -> None:
    def make_root(logger: core_services.Logger) -> list[str]:
        return []

    factory = create_service_factory(service=ROOT_COUNTER, factory=make_root)
    with pytest.raises(
        ServiceInstantiationError,
        match=(
            r"Failed to instantiate 'root' scoped service 'test.rootCounter' because it depends "
            "on 'plugin' scoped service 'core.logger'"
        ),
    ):
        async with start_test_backend(features=[factory]):
            pass


async def test_only_modules_of_the_same_plugin_may_use_an_extension_point() -> None:
    async def plugin_init(additions: Annotated[list[str], ADDITIONS]) -> None:
        return None

    with pytest.raises(
        BackendStartupError, match=r"Rejected dependency on extension point demo.additions"
    ):
        async with start_test_backend(features=[plugin_with("demo", plugin_init, (ADDITIONS, []))]):
            pass

    async def noop(logger: core_services.Logger) -> None:
        return None

    async def foreign(additions: Annotated[list[str], ADDITIONS]) -> None:
        return None

    with pytest.raises(
        BackendStartupError, match=r"Illegal dependency: Module 'sneaky' for plugin 'other'"
    ):
        async with start_test_backend(
            features=[
                plugin_with("demo", noop, (ADDITIONS, [])),
                plugin_with("other", noop, (OTHER_ADDITIONS, [])),
                module_with("other", "sneaky", foreign),
            ]
        ):
            pass


async def test_a_failing_plugin_can_be_allowed_to_continue_by_config() -> None:
    async def broken(logger: core_services.Logger) -> None:
        raise RuntimeError("boom")

    started: list[str] = []

    async def fine(logger: core_services.Logger) -> None:
        started.append("fine")

    config = {"backend": {"startup": {"plugins": {"broken": {"onPluginBootFailure": "continue"}}}}}
    async with start_test_backend(
        features=[plugin_with("broken", broken), plugin_with("fine", fine)], config=config
    ) as backend:
        response = await backend.client.get("/.backstage/health/v1/readiness")
        assert response.status_code == 200
    assert started == ["fine"]


async def test_features_cannot_be_added_after_start_and_start_runs_once() -> None:
    async with start_test_backend(features=[]) as test_backend:
        backend = test_backend.backend
        with pytest.raises(
            InputError, match=r"feature can not be added after the backend has started"
        ):
            backend.add(plugin_with("late", None))
        with pytest.raises(InputError, match=r"Backend has already started"):
            await backend.start()
