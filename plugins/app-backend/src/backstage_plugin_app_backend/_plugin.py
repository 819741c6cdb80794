"""The `app` plugin: the frontend bundle at `/` (the backend's index plugin) and at
`/api/app`, with the running deployment's frontend config in its page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backstage_backend_plugin_api import (
    BackendPlugin,
    PluginRegistrationPoints,
    create_backend_plugin,
)
from backstage_backend_plugin_api import core_services as core
from backstage_common.config import Config, ConfigSource
from backstage_common.errors import NotFoundError
from litestar import get

from backstage_plugin_app_backend._bundle import Bundle, scan_bundle
from backstage_plugin_app_backend._serve import AppRoutes
from backstage_plugin_app_backend._template import config_script, inject_config, render_template
from backstage_plugin_app_backend._visibility import frontend_visible, schema_values

__all__ = ["DEFAULT_BUNDLE_PATH", "app_plugin", "frontend_configs", "public_path_of"]

DEFAULT_BUNDLE_PATH = "packages/app/dist"
"""Where `backstage-py app build` writes the bundle, relative to the working directory."""


def public_path_of(config: Config) -> str:
    """The path of `app.baseUrl` without trailing slashes (`""` when the app is at `/`)."""
    base = config.get_optional_string("app.baseUrl") or "http://localhost:7007"
    return urlsplit(base).path.rstrip("/")


def frontend_configs(config: Config, schema_document: dict[str, Any]) -> list[dict[str, Any]]:
    """The config contexts the page carries: the frontend-visible part of `config`.

    Args:
        config: the backend's whole config.
        schema_document: the bundle's `.config-schema.json`.
    """
    data: Any = config.get_optional() or {}
    data = dict(data)
    app = dict(data.get("app") or {})
    if "baseUrl" not in app and config.get_optional_string("backend.baseUrl"):
        # The frontend needs app.baseUrl; served by this backend, it is the backend's URL.
        app["baseUrl"] = config.get_string("backend.baseUrl")
        data["app"] = app
    visible = frontend_visible(data, schema_values(schema_document))
    return [{"context": "app", "deprecatedKeys": [], "data": visible}]


def _page(bundle: Bundle, config: Config, public_path: str) -> bytes:
    """The page: the template rendered, with the build's own config (lowest priority, as a
    webpack build embeds it) and the running backend's frontend config after it."""
    template = bundle.template or ""
    configs = [
        {"context": f"build:{c.get('context', 'app')}", "deprecatedKeys": [], "data": c["data"]}
        for c in bundle.build_configs
    ]
    schema_path = bundle.root / ".config-schema.json"
    inject = not config.get_optional_boolean("app.disableConfigInjection")
    if inject and schema_path.is_file():
        configs += frontend_configs(config, json.loads(schema_path.read_text("utf-8")))
    # The template's expressions read what the frontend will read: the last context wins.
    merged = Config.from_sources(
        [ConfigSource(data=c["data"], context=c["context"]) for c in configs]
    )
    page = render_template(template, public_path=public_path, config=merged)
    return inject_config(page, config_script(configs)).encode() if configs else page.encode()


@get("/", include_in_schema=False)
async def _not_built() -> None:
    raise NotFoundError("The frontend bundle is not built: run `backstage-py app build`")


def _register(env: PluginRegistrationPoints) -> None:
    async def init(config: core.RootConfig, logger: core.Logger, router: core.HttpRouter) -> None:
        root = Path(config.get_optional_string("app.bundlePath") or DEFAULT_BUNDLE_PATH)
        router.add_auth_policy(path="/", allow="unauthenticated")
        if not (root / "static").is_dir():
            logger.warn(
                f"No frontend bundle in {root}: the app is not served "
                "(build it with `backstage-py app build`, or set app.bundlePath)"
            )
            router.use(_not_built)
            return
        bundle = scan_bundle(root)
        public_path = public_path_of(config)
        routes = AppRoutes(bundle, _page(bundle, config, public_path), public_path)
        router.use(*routes.handlers())
        logger.info(f"Serving the frontend bundle from {bundle.root} ({len(bundle.files)} files)")

    env.register_init(init)


def app_plugin() -> BackendPlugin:
    """The app plugin (`app`): serves the frontend bundle built by `backstage-py app build`.

    Config: `app.bundlePath` (the bundle directory, default `packages/app/dist` relative to
    the working directory), `app.baseUrl` (its path is the app's public path),
    `app.disableConfigInjection`.
    """
    return create_backend_plugin(plugin_id="app", register=_register)
