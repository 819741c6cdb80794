"""Reading what a function depends on from its `Annotated[Type, ref]` parameters."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from backstage_backend_plugin_api._refs import ExtensionPoint, ServiceRef

__all__ = ["Dependency", "read_dependencies"]

Dependency = ServiceRef[Any] | ExtensionPoint[Any]


def read_dependencies(fn: Callable[..., Any], *, skip_first: bool = False) -> dict[str, Dependency]:
    """Map each parameter of `fn` to the ref in its `Annotated[...]` hint.

    Every parameter must carry exactly one `ServiceRef` or `ExtensionPoint`, so that
    the backend knows what to inject; `skip_first` leaves out the first parameter (the
    root context of a plugin-scoped factory).
    """
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as error:
        raise TypeError(
            f"Cannot read the dependencies of {name}: {error}. Annotations are resolved at "
            "runtime, so the types and refs they name must be importable from its module"
        ) from error
    params = list(inspect.signature(fn).parameters.values())
    if skip_first:
        if not params:
            raise TypeError(f"{name} must take the root context as its first parameter")
        params = params[1:]
    deps: dict[str, Dependency] = {}
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{name} may not take *args or **kwargs as dependencies")
        refs = [
            meta
            for meta in getattr(hints.get(param.name), "__metadata__", ())
            if isinstance(meta, ServiceRef | ExtensionPoint)
        ]
        if len(refs) != 1:
            raise TypeError(
                f"Parameter '{param.name}' of {name} must be annotated with exactly one "
                "service ref or extension point, e.g. `config: core_services.RootConfig`"
            )
        deps[param.name] = refs[0]
    return deps
