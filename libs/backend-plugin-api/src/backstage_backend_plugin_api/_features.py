"""Backend plugins and modules: the features a backend installs."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias, TypeVar

from backstage_common.errors import InputError

from backstage_backend_plugin_api._factories import ServiceFactory
from backstage_backend_plugin_api._injection import Dependency, read_dependencies
from backstage_backend_plugin_api._refs import ExtensionPoint

__all__ = [
    "BackendFeature",
    "BackendModule",
    "BackendPlugin",
    "ExtensionPointRegistration",
    "InitRegistration",
    "ModuleRegistrationPoints",
    "PluginRegistrationPoints",
    "create_backend_module",
    "create_backend_plugin",
    "validate_feature_id",
]

T = TypeVar("T")
InitFn = Callable[..., Awaitable[None]]

_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$", re.IGNORECASE)


def validate_feature_id(kind: str, value: object) -> str:
    """Check a plugin or module id against Backstage's pattern."""
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        raise InputError(
            f"Invalid {kind} '{value}', must match the pattern {_ID_PATTERN.pattern} "
            "(letters, digits and single dashes, starting with a letter)"
        )
    return value


class PluginRegistrationPoints(Protocol):
    """What a plugin's `register` function may call, only while it runs."""

    def register_extension_point(self, extension_point: ExtensionPoint[T], impl: T) -> None:
        """Offer an implementation of an extension point to this plugin's modules; must
        come before `register_init`.

        Args:
            extension_point: the extension point's ref.
            impl: what modules that depend on it receive.
        """
        ...

    def register_init(self, init: InitFn) -> None:
        """Register the async init, called once at backend start; exactly once.

        Args:
            init: an async function whose parameters are its dependencies, each annotated
                with a service ref or extension point (e.g. `logger: core_services.Logger`).
        """
        ...


ModuleRegistrationPoints = PluginRegistrationPoints
"""Modules register exactly like plugins: extension points for sibling modules, one init."""


@dataclass(frozen=True)
class ExtensionPointRegistration:
    extension_point: ExtensionPoint[Any]
    impl: Any


@dataclass(frozen=True)
class InitRegistration:
    """What `register` produced: the extension points offered and the init to run."""

    extension_points: tuple[ExtensionPointRegistration, ...]
    init: InitFn
    deps: dict[str, Dependency]


class _Registrar:
    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._extension_points: list[ExtensionPointRegistration] = []
        self._init: tuple[InitFn, dict[str, Dependency]] | None = None
        self._open = True

    def _check_open(self, what: str) -> None:
        if not self._open:
            raise InputError(
                f"{what} called on {self._owner} after registration; "
                "registration points can only be used while register runs"
            )

    def register_extension_point(self, extension_point: ExtensionPoint[T], impl: T) -> None:
        self._check_open("register_extension_point")
        if self._init is not None:
            raise InputError(
                f"register_extension_point called after register_init in {self._owner}"
            )
        if not isinstance(extension_point, ExtensionPoint):
            raise InputError(f"{self._owner} registered something that is not an extension point")
        self._extension_points.append(ExtensionPointRegistration(extension_point, impl))

    def register_init(self, init: InitFn) -> None:
        self._check_open("register_init")
        if self._init is not None:
            raise InputError(f"register_init must only be called once, in {self._owner}")
        self._init = (init, read_dependencies(init))

    def close(self) -> InitRegistration:
        self._open = False
        if self._init is None:
            raise InputError(f"register_init was not called by register in {self._owner}")
        init, deps = self._init
        return InitRegistration(tuple(self._extension_points), init, deps)


def _run_register(
    owner: str, register: Callable[[PluginRegistrationPoints], None]
) -> InitRegistration:
    registrar = _Registrar(owner)
    register(registrar)
    return registrar.close()


@dataclass(frozen=True, eq=False)
class BackendPlugin:
    """A plugin: an id and one init. Created by `create_backend_plugin`.

    Args:
        plugin_id: the plugin's id; its routes are mounted at `/api/<pluginId>`.
        register: called at backend start with the registration points.
    """

    plugin_id: str
    register: Callable[[PluginRegistrationPoints], None] = field(repr=False)

    def get_registration(self) -> InitRegistration:
        """Run `register` (the backend does this at start) and return what it registered."""
        return _run_register(f"plugin '{self.plugin_id}'", self.register)

    def __str__(self) -> str:
        return f"plugin '{self.plugin_id}'"


@dataclass(frozen=True, eq=False)
class BackendModule:
    """A module extending one plugin. Created by `create_backend_module`.

    Args:
        plugin_id: the id of the plugin it extends.
        module_id: the module's id, unique among the plugin's modules.
        register: called at backend start with the registration points.
    """

    plugin_id: str
    module_id: str
    register: Callable[[ModuleRegistrationPoints], None] = field(repr=False)

    def get_registration(self) -> InitRegistration:
        """Run `register` (the backend does this at start) and return what it registered."""
        return _run_register(
            f"module '{self.module_id}' for plugin '{self.plugin_id}'", self.register
        )

    def __str__(self) -> str:
        return f"module '{self.module_id}' for plugin '{self.plugin_id}'"


BackendFeature: TypeAlias = BackendPlugin | BackendModule | ServiceFactory[Any]
"""What a backend installs: a plugin, a module, or a service factory (which replaces the
default implementation of its service). A package exports its features for a backend to
add, e.g. `def search_features() -> list[BackendFeature]`."""


def create_backend_plugin(
    *, plugin_id: str, register: Callable[[PluginRegistrationPoints], None]
) -> BackendPlugin:
    """Create a plugin.

    Args:
        plugin_id: the plugin's id (letters, digits and single dashes, starting with a
            letter); its routes are mounted at `/api/<pluginId>`.
        register: runs at backend start; it calls `register_init` once, and may offer
            extension points to the plugin's modules first.
    """
    return BackendPlugin(validate_feature_id("pluginId", plugin_id), register)


def create_backend_module(
    *,
    plugin_id: str,
    module_id: str,
    register: Callable[[ModuleRegistrationPoints], None],
) -> BackendModule:
    """Create a module for a plugin; it initialises before that plugin.

    Args:
        plugin_id: the id of the plugin it extends.
        module_id: the module's id (letters, digits and single dashes, starting with a
            letter), unique among the plugin's modules.
        register: runs at backend start; it calls `register_init` once, whose init may
            depend on the plugin's extension points.
    """
    return BackendModule(
        validate_feature_id("pluginId", plugin_id),
        validate_feature_id("moduleId", module_id),
        register,
    )
