"""Fixtures of the sign-in tests against real identity providers."""

from __future__ import annotations

import pytest

from ._oidc import install_oidc_idp


@pytest.fixture(scope="session")
def oidc_packages() -> None:
    """oidc-provider installed from the committed lock file, once per run."""
    install_oidc_idp()
