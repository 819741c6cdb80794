"""backstage_plugin_auth_backend: the auth plugin (`/api/auth`).

Sign-in through the providers that modules register on `auth.providers` (see
`backstage_plugin_auth_node`), Backstage user tokens signed with keys the plugin keeps in
its own database, `/.well-known/openid-configuration`, `/.well-known/jwks.json` and
`/v1/userinfo`, wire-compatible with Backstage's auth backend. `auth_features()` is the
plugin with the provider modules installed alongside it (the `backstage.plugins` entry
point `auth`).
"""

from importlib.metadata import entry_points

from backstage_backend_plugin_api import BackendModule, BackendPlugin

from backstage_plugin_auth_backend._plugin import MIGRATIONS, PLUGIN_ID, auth_plugin
from backstage_plugin_auth_backend._settings import is_development, read_token_expiration

__all__ = [
    "AUTH_PROVIDERS_ENTRY_POINT_GROUP",
    "MIGRATIONS",
    "PLUGIN_ID",
    "auth_features",
    "auth_plugin",
    "is_development",
    "read_token_expiration",
]

AUTH_PROVIDERS_ENTRY_POINT_GROUP = "backstage.auth.providers"
"""Provider module packages register a function returning their module here."""


def auth_features() -> list[BackendPlugin | BackendModule]:
    """The auth plugin as a unit installs it: with every provider module installed in the
    environment (entry-point group `backstage.auth.providers`). A module whose provider is
    not configured under `auth.providers` only answers 404, as in Backstage."""
    modules = [ep.load()() for ep in entry_points(group=AUTH_PROVIDERS_ENTRY_POINT_GROUP)]
    return [auth_plugin(), *sorted(modules, key=lambda module: module.module_id)]
