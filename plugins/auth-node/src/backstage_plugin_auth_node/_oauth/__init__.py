"""The generic OAuth flow: routes, state, cookies, origins, environments, popup page."""
