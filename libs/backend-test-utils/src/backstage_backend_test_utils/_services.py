"""Real servers for tests: from environment variables, skipped (or failed in CI) without."""

from __future__ import annotations

import os

import pytest

__all__ = ["REQUIRE_SERVICES_ENV", "require_service_url"]

REQUIRE_SERVICES_ENV = "BACKSTAGE_TEST_REQUIRE_SERVICES"


def require_service_url(env_name: str) -> str:
    """The URL in `env_name` (e.g. `BACKSTAGE_TEST_REDIS_URL`).

    Without it the test is skipped with the reason, or fails when
    `BACKSTAGE_TEST_REQUIRE_SERVICES=1` (as in CI), so a missing server never passes silently.
    """
    url = os.environ.get(env_name, "").strip()
    if url:
        return url
    reason = f"{env_name} is not set: this test needs a real server"
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_SERVICES_ENV}=1 requires it")
    pytest.skip(reason)
