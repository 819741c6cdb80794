"""backstage_plugin_auth_backend_module_oidc_provider: sign-in with OpenID Connect.

`auth_module_oidc_provider()` adds the `oidc` provider to the auth plugin, as Backstage's
`@backstage/plugin-auth-backend-module-oidc-provider` does: discovery from `metadataUrl`,
the authorization code flow with PKCE and a nonce, the ID token validated (signature
against the IdP's JWKS, issuer, audience, expiry, nonce), refresh and revocation.
`OidcAuthenticator` is the provider itself, for a company's own OIDC-based provider.
"""

from backstage_plugin_auth_backend_module_oidc_provider._authenticator import (
    OidcAuthenticator,
    OidcContext,
    OidcProfile,
)
from backstage_plugin_auth_backend_module_oidc_provider._id_token import (
    IdTokenExpectations,
    validate_id_token,
)
from backstage_plugin_auth_backend_module_oidc_provider._module import (
    auth_module_oidc_provider,
    oidc_sign_in_resolvers,
)
from backstage_plugin_auth_backend_module_oidc_provider._settings import (
    OidcSettings,
    read_oidc_settings,
)

__all__ = [
    "IdTokenExpectations",
    "OidcAuthenticator",
    "OidcContext",
    "OidcProfile",
    "OidcSettings",
    "auth_module_oidc_provider",
    "oidc_sign_in_resolvers",
    "read_oidc_settings",
    "validate_id_token",
]
