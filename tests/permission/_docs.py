"""A plugin `docs` owning resource type `docs-item` and asking `core.permissions` for its
callers, for the permission tests that run it beside the permission plugin."""

from __future__ import annotations

from collections.abc import Sequence
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

DOCS = {
    "doc:a": {"owner": "user:default/jane", "public": False},
    "doc:b": {"owner": "group:default/team-b", "public": False},
    "doc:c": {"owner": "user:default/other", "public": True},
}

doc_ref = create_permission_resource_ref(plugin_id="docs", resource_type="docs-item")
doc_read = create_permission("docs.item.read", action="read", resource_type="docs-item")
doc_delete = create_permission("docs.item.delete", action="delete", resource_type="docs-item")
doc_create = create_permission("docs.item.create", action="create")

is_owner = create_permission_rule(
    name="IS_OWNER",
    description="Owned by one of the claims",
    resource_ref=doc_ref,
    params_schema={
        "type": "object",
        "properties": {"claims": {"type": "array", "items": {"type": "string"}}},
        "required": ["claims"],
        "additionalProperties": False,
    },
    apply=lambda doc, params: doc["owner"] in params["claims"],
    to_query=lambda params: ("owner_in", tuple(params["claims"])),
)
is_public = create_permission_rule(
    name="IS_PUBLIC",
    description="Public documents",
    resource_ref=doc_ref,
    apply=lambda doc, params: bool(doc["public"]),
    to_query=lambda params: ("public",),
)

PERMISSIONS = {p.name: p for p in (doc_read, doc_delete, doc_create)}


async def get_docs(refs: Sequence[str]) -> list[dict[str, Any] | None]:
    return [DOCS.get(ref) for ref in refs]


def docs_plugin() -> BackendPlugin:
    def register(env: PluginRegistrationPoints) -> None:
        async def init(
            router: core.HttpRouter,
            registry: core.PermissionsRegistry,
            permissions: core.Permissions,
            http_auth: core.HttpAuth,
        ) -> None:
            registry.add_resource_type(
                resource_ref=doc_ref,
                rules=[is_owner, is_public],
                permissions=[doc_read, doc_delete, doc_create],
                get_resources=get_docs,
            )

            @get("/visible")
            async def visible(request: Request[Any, Any, Any]) -> dict[str, Any]:
                credentials = await http_auth.credentials(request)
                (decision,) = await permissions.authorize_conditional(
                    [QueryPermissionRequest(doc_read)], credentials=credentials
                )
                if isinstance(decision, ConditionalPolicyDecision):
                    return {
                        "result": "CONDITIONAL",
                        "conditions": criteria_to_json(decision.conditions),
                    }
                return {"result": decision.result.value}

            @get("/allowed/{name:str}")
            async def allowed(
                request: Request[Any, Any, Any], name: FromPath[str]
            ) -> dict[str, Any]:
                credentials = await http_auth.credentials(request)
                ref = request.query_params.get("ref")
                (decision,) = await permissions.authorize(
                    [AuthorizePermissionRequest(PERMISSIONS[name], ref)], credentials=credentials
                )
                return {"result": decision.result.value}

            router.use(visible, allowed)

        env.register_init(init)

    return create_backend_plugin(plugin_id="docs", register=register)
