"""backstage_plugin_auth_backend_module_github_provider: sign-in with GitHub.

`auth_module_github_provider()` adds the `github` provider to the auth plugin, as
Backstage's `@backstage/plugin-auth-backend-module-github-provider` does: OAuth Apps (and
GitHub Apps) on github.com or a GitHub Enterprise Server (`enterpriseInstanceUrl`), the
`read:user` scope always, and GitHub's resolvers `usernameMatchingUserEntityName` and
`userIdMatchingUserEntityAnnotation` next to the common ones.
"""

from backstage_plugin_auth_backend_module_github_provider._authenticator import (
    ACCESS_TOKEN_PREFIX,
    GithubAuthenticator,
    GithubContext,
)
from backstage_plugin_auth_backend_module_github_provider._module import (
    auth_module_github_provider,
)
from backstage_plugin_auth_backend_module_github_provider._profile import GithubProfile
from backstage_plugin_auth_backend_module_github_provider._resolvers import (
    GITHUB_USER_ID_ANNOTATION,
    create_github_sign_in_resolvers,
)
from backstage_plugin_auth_backend_module_github_provider._settings import (
    GITHUB_COM,
    GithubEndpoints,
    GithubSettings,
    read_github_settings,
)

__all__ = [
    "ACCESS_TOKEN_PREFIX",
    "GITHUB_COM",
    "GITHUB_USER_ID_ANNOTATION",
    "GithubAuthenticator",
    "GithubContext",
    "GithubEndpoints",
    "GithubProfile",
    "GithubSettings",
    "auth_module_github_provider",
    "create_github_sign_in_resolvers",
    "read_github_settings",
]
