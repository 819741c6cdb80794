"""A test plugin owning resource type `widgets-item`, with two rules, and routes that ask
`core.permissions` with the caller's credentials."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from backstage_backend_plugin_api import (
    AuthorizePermissionRequest,
    BackendPlugin,
    PluginRegistrationPoints,
    QueryPermissionRequest,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_plugin_permission_common import (
    ConditionalPolicyDecision,
    create_permission,
    criteria_to_json,
)
from backstage_plugin_permission_node import (
    create_permission_resource_ref,
    create_permission_rule,
)
from litestar import Request, get
from litestar.params import FromPath

WIDGETS = {
    "widget:red-one": {"color": "red", "owner": "user:default/jane"},
    "widget:blue-one": {"color": "blue", "owner": "group:default/team-a"},
    "widget:green-one": {"color": "green", "owner": "user:default/other"},
}

widget_ref = create_permission_resource_ref(plugin_id="widgets", resource_type="widgets-item")
widget_read = create_permission("widgets.item.read", action="read", resource_type="widgets-item")
widget_create = create_permission("widgets.item.create", action="create")

has_color = create_permission_rule(
    name="HAS_COLOR",
    description="The widget has one of the colors",
    resource_ref=widget_ref,
    params_schema={
        "type": "object",
        "properties": {"colors": {"type": "array", "items": {"type": "string"}}},
        "required": ["colors"],
        "additionalProperties": False,
    },
    apply=lambda widget, params: widget["color"] in params["colors"],
    to_query=lambda params: {"color_in": list(params["colors"])},
)
is_owner = create_permission_rule(
    name="IS_OWNER",
    description="The widget is owned by one of the claims",
    resource_ref=widget_ref,
    params_schema={
        "type": "object",
        "properties": {"claims": {"type": "array", "items": {"type": "string"}}},
        "required": ["claims"],
    },
    apply=lambda widget, params: widget["owner"] in params["claims"],
    to_query=lambda params: {"owner_in": list(params["claims"])},
)

loaded: list[list[str]] = []


async def get_widgets(refs: Sequence[str]) -> list[Mapping[str, Any] | None]:
    loaded.append(list(refs))
    return [WIDGETS.get(ref) for ref in refs]


def widgets_plugin() -> BackendPlugin:
    def register(env: PluginRegistrationPoints) -> None:
        async def init(
            router: core.HttpRouter,
            registry: core.PermissionsRegistry,
            permissions: core.Permissions,
            http_auth: core.HttpAuth,
        ) -> None:
            registry.add_resource_type(
                resource_ref=widget_ref,
                rules=[has_color, is_owner],
                permissions=[widget_read],
                get_resources=get_widgets,
            )
            registry.add_permissions([widget_create])

            @get("/visible")
            async def visible(request: Request[Any, Any, Any]) -> dict[str, Any]:
                credentials = await http_auth.credentials(request)
                (decision,) = await permissions.authorize_conditional(
                    [QueryPermissionRequest(widget_read)], credentials=credentials
                )
                if isinstance(decision, ConditionalPolicyDecision):
                    return {
                        "result": "CONDITIONAL",
                        "pluginId": decision.plugin_id,
                        "conditions": criteria_to_json(decision.conditions),
                    }
                return {"result": decision.result.value}

            @get("/can-read/{ref:str}")
            async def can_read(
                request: Request[Any, Any, Any], ref: FromPath[str]
            ) -> dict[str, Any]:
                credentials = await http_auth.credentials(request)
                (decision,) = await permissions.authorize(
                    [AuthorizePermissionRequest(widget_read, ref)], credentials=credentials
                )
                return {"result": decision.result.value}

            router.use(visible, can_read)

        env.register_init(init)

    return create_backend_plugin(plugin_id="widgets", register=register)
