"""core.auth and core.httpAuth: who is calling, and tokens for calling other plugins.

- Plugin-to-plugin tokens are ES256 JWTs (`typ: vnd.backstage.plugin`, `sub` = caller,
  `aud` = target, valid one hour), signed with a key pair each plugin makes at its first
  call and rotates every `backend.auth.pluginKeyStore.keyDuration` (default one hour). The
  public keys live in the plugin's own database (`backstage_backend_public_keys__keys`),
  are published at `/api/<pluginId>/.backstage/auth/v1/jwks.json`, and stay there until
  the tokens they signed have expired. A receiving plugin finds the caller's keys through
  discovery and refetches them on an unknown key id, at most ten times a minute.
- External callers use `backend.auth.externalAccess` entries of type `static` or `legacy`,
  optionally restricted to some plugins (`accessRestrictions`).
- User tokens are verified with the auth backend's keys (`<discovery 'auth'>/.well-known/
  jwks.json`, algorithm `auth.identityTokenAlgorithm`, default ES256); a call on behalf
  of a user carries the user's limited token in the plugin token's `obo` claim.
"""

from backstage_backend_defaults.auth._external_access import (
    ExternalAccessEntry,
    ExternalTokens,
    read_external_access,
)
from backstage_backend_defaults.auth._factories import (
    auth_service_factory,
    http_auth_service_factory,
    read_key_duration,
    read_user_token_max_lifetime,
)
from backstage_backend_defaults.auth._http_auth import (
    AUTH_COOKIE,
    DefaultHttpAuthService,
    bearer_token,
)
from backstage_backend_defaults.auth._jwks import JWKS_PATH
from backstage_backend_defaults.auth._key_source import SIGNING_ALGORITHM, PluginKeySource
from backstage_backend_defaults.auth._key_store import KEYS_TABLE, DatabaseKeyStore
from backstage_backend_defaults.auth._plugin_tokens import (
    PLUGIN_TOKEN_TYPE,
    TOKEN_LIFETIME,
    PluginTokenHandler,
    VerifiedPluginToken,
)
from backstage_backend_defaults.auth._service import DefaultAuthService, check_principal_allowed
from backstage_backend_defaults.auth._user_tokens import (
    LIMITED_USER_TOKEN_TYPE,
    USER_JWKS_PATH,
    USER_TOKEN_TYPE,
    UserTokenHandler,
    VerifiedUserToken,
)

__all__ = [
    "AUTH_COOKIE",
    "JWKS_PATH",
    "KEYS_TABLE",
    "LIMITED_USER_TOKEN_TYPE",
    "PLUGIN_TOKEN_TYPE",
    "SIGNING_ALGORITHM",
    "TOKEN_LIFETIME",
    "USER_JWKS_PATH",
    "USER_TOKEN_TYPE",
    "DatabaseKeyStore",
    "DefaultAuthService",
    "DefaultHttpAuthService",
    "ExternalAccessEntry",
    "ExternalTokens",
    "PluginKeySource",
    "PluginTokenHandler",
    "UserTokenHandler",
    "VerifiedPluginToken",
    "VerifiedUserToken",
    "auth_service_factory",
    "bearer_token",
    "check_principal_allowed",
    "http_auth_service_factory",
    "read_external_access",
    "read_key_duration",
    "read_user_token_max_lifetime",
]
