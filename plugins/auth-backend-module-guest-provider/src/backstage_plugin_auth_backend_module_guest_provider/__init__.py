"""backstage_plugin_auth_backend_module_guest_provider: guest sign-in for development."""

from backstage_plugin_auth_backend_module_guest_provider._authenticator import (
    GuestAuthenticator,
)
from backstage_plugin_auth_backend_module_guest_provider._module import (
    auth_module_guest_provider,
)
from backstage_plugin_auth_backend_module_guest_provider._resolver import sign_in_as_guest_user

__all__ = ["GuestAuthenticator", "auth_module_guest_provider", "sign_in_as_guest_user"]
