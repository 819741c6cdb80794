"""backstage_plugin_auth_node: what auth provider modules build on.

The `auth.providers` extension point, the `OAuthAuthenticator` protocol an OAuth provider
implements, the generic OAuth flow around it (`create_oauth_provider_factory`: routes,
`state`, cookies, origins, environments, the popup page), proxy providers
(`create_proxy_provider_factory`), sign-in resolvers and the context they run in, and the
resolvers every provider offers (`common_sign_in_resolvers`).
"""

from typing import Annotated, TypeAlias

from backstage_plugin_auth_node._authenticator import (
    OAuthAuthenticateInput,
    OAuthAuthenticator,
    OAuthLogoutInput,
    OAuthRefreshInput,
    OAuthStartInput,
    OAuthStartResponse,
    ProfileTransform,
)
from backstage_plugin_auth_node._common_resolvers import (
    ProfileEmailMissingError,
    common_sign_in_resolvers,
)
from backstage_plugin_auth_node._declarative import (
    SignInResolutionError,
    read_declarative_sign_in_resolver,
)
from backstage_plugin_auth_node._extension_point import (
    AuthOwnershipResolutionExtensionPoint,
    AuthOwnershipResolver,
    AuthProvidersExtensionPoint,
    auth_ownership_resolution_extension_point,
    auth_providers_extension_point,
)
from backstage_plugin_auth_node._identity import prepare_backstage_identity_response
from backstage_plugin_auth_node._oauth._factory import create_oauth_provider_factory
from backstage_plugin_auth_node._oauth._send import send_to_provider
from backstage_plugin_auth_node._oauth._state import decode_oauth_state, encode_oauth_state
from backstage_plugin_auth_node._provider import (
    AuthProviderFactory,
    AuthProviderFactoryOptions,
    AuthProviderRequest,
    AuthProviderResponse,
    AuthProviderRouteHandlers,
    OAuthFlowStateStore,
)
from backstage_plugin_auth_node._proxy import (
    ProxyAuthenticator,
    ProxyAuthenticatorResult,
    create_proxy_provider_factory,
)
from backstage_plugin_auth_node._resolvers import (
    AuthResolverCatalogUserQuery,
    AuthResolverContext,
    SignInInfo,
    SignInResolver,
    SignInResolverFactory,
)
from backstage_plugin_auth_node._types import (
    BackstageIdentityResponse,
    BackstageSignInResult,
    BackstageUserIdentity,
    OAuthAuthenticatorResult,
    OAuthSession,
    ProfileInfo,
)

AuthProviders: TypeAlias = Annotated[AuthProvidersExtensionPoint, auth_providers_extension_point]
"""Inject the providers extension point into a module's init."""
AuthOwnershipResolution: TypeAlias = Annotated[
    AuthOwnershipResolutionExtensionPoint, auth_ownership_resolution_extension_point
]
"""Inject the ownership resolution extension point into a module's init."""

__all__ = [
    "AuthOwnershipResolution",
    "AuthOwnershipResolutionExtensionPoint",
    "AuthOwnershipResolver",
    "AuthProviderFactory",
    "AuthProviderFactoryOptions",
    "AuthProviderRequest",
    "AuthProviderResponse",
    "AuthProviderRouteHandlers",
    "AuthProviders",
    "AuthProvidersExtensionPoint",
    "AuthResolverCatalogUserQuery",
    "AuthResolverContext",
    "BackstageIdentityResponse",
    "BackstageSignInResult",
    "BackstageUserIdentity",
    "OAuthAuthenticateInput",
    "OAuthAuthenticator",
    "OAuthAuthenticatorResult",
    "OAuthFlowStateStore",
    "OAuthLogoutInput",
    "OAuthRefreshInput",
    "OAuthSession",
    "OAuthStartInput",
    "OAuthStartResponse",
    "ProfileEmailMissingError",
    "ProfileInfo",
    "ProfileTransform",
    "ProxyAuthenticator",
    "ProxyAuthenticatorResult",
    "SignInInfo",
    "SignInResolutionError",
    "SignInResolver",
    "SignInResolverFactory",
    "auth_ownership_resolution_extension_point",
    "auth_providers_extension_point",
    "common_sign_in_resolvers",
    "create_oauth_provider_factory",
    "create_proxy_provider_factory",
    "decode_oauth_state",
    "encode_oauth_state",
    "prepare_backstage_identity_response",
    "read_declarative_sign_in_resolver",
    "send_to_provider",
]
