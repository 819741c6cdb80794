"""Creating plugins, modules, refs and factories: what authors get wrong is refused early."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from backstage_backend_plugin_api import (
    ExtensionPoint,
    PluginRegistrationPoints,
    ServiceRef,
    core_services,
    create_backend_module,
    create_backend_plugin,
    create_extension_point,
    create_service_factory,
    create_service_ref,
)
from backstage_backend_plugin_api._injection import read_dependencies
from backstage_common.errors import InputError

# Dependencies are resolved from annotations at runtime, so the refs they name live at
# module level (as a plugin's own refs do).
THINGS: ExtensionPoint[list[str]] = create_extension_point(id="x.things")


async def _noop(logger: core_services.Logger) -> None:
    return None


def _register_noop(env: PluginRegistrationPoints) -> None:
    env.register_init(_noop)


@pytest.mark.parametrize("plugin_id", ["catalog", "search-backend", "a1", "Catalog"])
def test_valid_plugin_ids_are_accepted(plugin_id: str) -> None:
    assert (
        create_backend_plugin(plugin_id=plugin_id, register=_register_noop).plugin_id == plugin_id
    )


@pytest.mark.parametrize(
    "plugin_id", ["", "1catalog", "cat--alog", "cat alog", "-x", "x-", "cat_alog"]
)
def test_invalid_plugin_ids_are_refused_with_the_id_and_pattern(plugin_id: str) -> None:
    with pytest.raises(
        InputError, match=rf"Invalid pluginId '{plugin_id}', must match the pattern"
    ):
        create_backend_plugin(plugin_id=plugin_id, register=_register_noop)


def test_invalid_module_id_is_refused() -> None:
    with pytest.raises(InputError, match=r"Invalid moduleId 'Bad Module'"):
        create_backend_module(plugin_id="catalog", module_id="Bad Module", register=_register_noop)


def test_register_init_must_be_called_exactly_once() -> None:
    def twice(env: PluginRegistrationPoints) -> None:
        env.register_init(_noop)
        env.register_init(_noop)

    with pytest.raises(InputError, match=r"register_init must only be called once, in plugin 'x'"):
        create_backend_plugin(plugin_id="x", register=twice).get_registration()
    never = create_backend_plugin(plugin_id="x", register=lambda env: None)
    with pytest.raises(InputError, match=r"register_init was not called by register in plugin 'x'"):
        never.get_registration()


def test_extension_points_are_registered_before_init_and_only_during_registration() -> None:
    point: ExtensionPoint[list[str]] = create_extension_point(id="x.things")
    kept: list[PluginRegistrationPoints] = []

    def late(env: PluginRegistrationPoints) -> None:
        env.register_init(_noop)
        env.register_extension_point(point, [])

    with pytest.raises(InputError, match=r"register_extension_point called after register_init"):
        create_backend_plugin(plugin_id="x", register=late).get_registration()

    def keeps(env: PluginRegistrationPoints) -> None:
        kept.append(env)
        env.register_init(_noop)

    create_backend_plugin(plugin_id="x", register=keeps).get_registration()
    with pytest.raises(InputError, match=r"after registration"):
        kept[0].register_extension_point(point, [])


def test_dependencies_are_read_from_annotated_parameters() -> None:
    async def init(
        logger: core_services.Logger,
        cache: core_services.Cache,
        things: Annotated[list[str], THINGS],
    ) -> None:
        return None

    deps = read_dependencies(init)
    assert deps == {"logger": core_services.logger, "cache": core_services.cache, "things": THINGS}


def test_a_parameter_without_a_ref_is_refused_by_name() -> None:
    async def init(logger: core_services.Logger, other: int) -> None:
        return None

    with pytest.raises(TypeError, match=r"Parameter 'other' of .*init must be annotated"):
        read_dependencies(init)


def test_service_refs_have_scope_and_string_form() -> None:
    ref: ServiceRef[int] = create_service_ref(id="x.counter", scope="root")
    assert (ref.id, ref.scope, ref.multiton, str(ref)) == (
        "x.counter",
        "root",
        False,
        "serviceRef{x.counter}",
    )
    assert core_services.http_router.scope == "plugin"
    assert core_services.root_config.scope == "root"
    with pytest.raises(ValueError, match=r"Invalid scope"):
        create_service_ref(id="x", scope="global")  # type: ignore[arg-type]


def test_service_factories_may_not_depend_on_extension_points() -> None:
    ref: ServiceRef[int] = create_service_ref(id="x.counter")

    def factory(things: Annotated[Any, THINGS]) -> int:
        return 1

    with pytest.raises(TypeError, match=r"can only depend on services"):
        create_service_factory(service=ref, factory=factory)


def test_a_root_context_reads_its_own_dependencies() -> None:
    ref: ServiceRef[str] = create_service_ref(id="x.named")

    def root_context(config: core_services.RootConfig) -> str:
        return "shared"

    def factory(ctx: str, metadata: core_services.PluginMetadata) -> str:
        return f"{ctx}:{metadata.get_id()}"

    made = create_service_factory(service=ref, factory=factory, create_root_context=root_context)
    assert made.deps == {"metadata": core_services.plugin_metadata}
    assert made.root_context_deps == {"config": core_services.root_config}
