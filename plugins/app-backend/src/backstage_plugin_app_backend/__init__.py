"""backstage_plugin_app_backend: the app plugin (`app`), Backstage's app-backend.

`app_plugin()` serves the frontend bundle (`backstage-py app build` makes it) as the
backend's index plugin: `/`, every path outside `/api` and `/.backstage` (the page, for the
frontend's own routes) and `/api/app/...`. Hashed assets are cached for a year and sent
precompressed (brotli or gzip, by `Accept-Encoding`); the page is never cached and carries the
frontend-visible part of the running backend's config, by the bundle's own config schema.
"""

from backstage_plugin_app_backend._plugin import (
    DEFAULT_BUNDLE_PATH,
    app_plugin,
    frontend_configs,
    public_path_of,
)
from backstage_plugin_app_backend._visibility import frontend_visible

__all__ = [
    "DEFAULT_BUNDLE_PATH",
    "app_plugin",
    "frontend_configs",
    "frontend_visible",
    "public_path_of",
]
