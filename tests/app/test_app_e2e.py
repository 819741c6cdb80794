"""Backstage's own frontend (packages/app, built by `backstage-py app build`) in Debian's
Chromium, driven by Playwright, on the `all` unit and on the topology's units behind nginx.

A guest signs in; the catalog lists the example components with their owners and filters by
kind; checkout-service's page shows its about card, relations and API; search finds
"checkout"; catalog import registers a `url` location served by a loopback server and the new
component appears. Any console error or failed `/api` request the page makes fails the test.
With BACKSTAGE_APP_SCREENSHOTS set to a folder, the catalog list, an entity page and the
search page are saved there (the README's pictures come from such a run).
"""

from __future__ import annotations

import http.server
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, Response, expect, sync_playwright

from ._deployments import (
    Deployment,
    all_unit,
    free_port,
    require_binary,
    require_bundle,
    split_units,
    wait_until,
)
from ._idp import oidc_provider

TIMEOUT_MS = 30_000
IMPORTED = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: loopback-imported-service
  description: Registered through the catalog import page
spec:
  type: service
  lifecycle: experimental
  owner: platform
"""


class _CatalogInfo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/repo/catalog-info.yaml":
            self.send_error(404)
            return
        body = IMPORTED.encode()
        self.send_response(200)
        self.send_header("content-type", "text/yaml")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def catalog_info_server() -> Iterator[str]:
    """A loopback server holding a catalog-info.yaml for the import page."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CatalogInfo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["all", "split"])
def deployment(
    request: pytest.FixtureRequest, tmp_path: Path, catalog_info_server: str
) -> Iterator[Deployment]:
    require_bundle()
    # The catalog may read the loopback server (URL readers fetch allowed hosts only).
    extra = {"backend": {"reading": {"allow": [{"host": catalog_info_server}]}}}
    start = all_unit if request.param == "all" else split_units
    with start(tmp_path, extra) as deployed:
        yield deployed


class PageProblems:
    """Console errors and failed `/api` requests of a page, as they happen; `expected`
    holds the URL parts of requests the test makes fail on purpose."""

    def __init__(self, page: Page, expected: tuple[str, ...] = ()) -> None:
        self.problems: list[str] = []
        self.expected = expected
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        # the browser's own line for a failed request: the response is judged on its own
        if message.type == "error" and self.expected and "Failed to load resource" in message.text:
            return
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _failed(self, request: Request) -> None:
        # The frontend cancels a search it no longer needs when the query changes: that
        # abort is the page's own doing, not a failure of the backend.
        if "/api/" in request.url and request.failure != "net::ERR_ABORTED":
            self.problems.append(
                f"failed request: {request.method} {request.url} ({request.failure})"
            )

    def _response(self, response: Response) -> None:
        if any(part in response.url for part in self.expected):
            return
        if "/api/" in response.url and response.status >= 400:
            self.problems.append(f"{response.status}: {response.request.method} {response.url}")


def screenshot(page: Page, name: str) -> None:
    folder = os.environ.get("BACKSTAGE_APP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def search_finds(deployment: Deployment, term: str) -> bool:
    """Search indexes on its schedule after start: the page is checked once it can answer."""
    response = httpx.get(f"{deployment.url}/api/search/query", params={"term": term}, timeout=10)
    return response.status_code == 200 and bool(response.json()["results"])


def catalog_holds(deployment: Deployment, components: int) -> bool:
    guest = httpx.get(
        f"{deployment.url}/api/auth/guest/refresh",
        headers={"X-Requested-With": "XMLHttpRequest"},
        timeout=10,
    )
    token = guest.json()["backstageIdentity"]["token"]
    response = httpx.get(
        f"{deployment.url}/api/catalog/entities/by-query",
        params={"filter": "kind=component"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.status_code == 200 and len(response.json()["items"]) >= components


def test_a_guest_browses_the_catalog_searches_and_imports(
    deployment: Deployment, catalog_info_server: str
) -> None:
    chromium = require_binary("chromium", apt="chromium")
    wait_until(lambda: search_finds(deployment, "checkout"), "search ready", deployment, 300)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            watched = PageProblems(page)
            browse(page, deployment, catalog_info_server)
            assert watched.problems == [], "\n".join(watched.problems)
        finally:
            browser.close()


def browse(page: Page, deployment: Deployment, catalog_info_server: str) -> None:
    # Sign in as a guest: the auth plugin's guest provider.
    page.goto(deployment.url)
    page.get_by_role("button", name="Enter").click()

    # The catalog list (the landing page): the example components (by their titles) and
    # their owners (by their names or titles).
    rows = page.get_by_role("row")
    for title, owner in (
        ("Checkout service", "payments"),
        ("Storefront web app", "Storefront"),
        ("identity-service", "platform"),
    ):
        expect(rows.filter(has=page.get_by_role("link", name=title, exact=True))).to_contain_text(
            owner
        )
    expect(page.get_by_text("All Components (6)")).to_be_visible()
    screenshot(page, "catalog-list")

    # Filter by kind: APIs only, then back to components.
    page.get_by_label("Kind").click()
    page.get_by_role("option", name="API", exact=True).click()
    expect(page.get_by_text(re.compile(r"^All APIs? \(4\)$", re.IGNORECASE))).to_be_visible()
    expect(rows.filter(has_text="checkout-api").first).to_be_visible()
    expect(page.get_by_role("link", name="Checkout service", exact=True)).to_have_count(0)
    page.get_by_label("Kind").click()
    page.get_by_role("option", name="Component", exact=True).click()
    expect(page.get_by_text("All Components (6)")).to_be_visible()

    # checkout-service: about card, relations, its API.
    page.get_by_role("link", name="Checkout service", exact=True).click()
    expect(page).to_have_url(re.compile(r"/catalog/default/component/checkout-service$"))
    expect(page.get_by_text("About", exact=True)).to_be_visible()
    expect(page.get_by_text("Turns baskets into orders.").first).to_be_visible()
    expect(page.get_by_text("Relations", exact=True)).to_be_visible()
    expect(page.get_by_text("ownerOf / ownedBy")).to_be_visible()
    api = page.get_by_role("link", name="checkout-api", exact=True).first
    expect(api).to_have_attribute("href", "/catalog/default/api/checkout-api")
    screenshot(page, "entity-page")
    api.click()
    expect(page).to_have_url(re.compile(r"/catalog/default/api/checkout-api$"))
    expect(page.get_by_text("Create and track orders.").first).to_be_visible()

    # Search finds "checkout".
    page.goto(f"{deployment.url}/search?query=checkout")
    expect(page.get_by_text("Turns baskets into orders.")).to_be_visible()
    expect(page.get_by_text("Kind: Component")).to_be_visible()
    screenshot(page, "search")

    # Catalog import: a url location on the loopback server; the new component appears.
    page.goto(f"{deployment.url}/catalog-import")
    target = f"http://{catalog_info_server}/repo/catalog-info.yaml"
    page.locator("input[name=url]").fill(target)
    page.get_by_role("button", name="Analyze").click()
    expect(page.get_by_text("loopback-imported-service").first).to_be_visible()
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("button", name="Register another")).to_be_visible()
    page.goto(f"{deployment.url}/catalog/default/component/loopback-imported-service")
    expect(page.get_by_text("Registered through the catalog import page").first).to_be_visible()


CHIARA = {"email": "chiara.rossi@northwind.example", "email_verified": True, "name": "Chiara"}
# Chiara (a member of payments) reads only what she owns; everyone else reads everything.
POLICY = {
    "default": "allow",
    "rules": [
        {
            "resourceType": "catalog-entity",
            "members": ["user:default/chiara.rossi"],
            "decision": "conditional",
            "conditions": {
                "anyOf": [{"rule": "IS_ENTITY_OWNER", "params": {"claims": "$ownerRefs"}}]
            },
        }
    ],
}


@pytest.mark.parametrize("shape", ["all", "split"])
def test_a_catalog_user_signs_in_through_oidc_and_sees_only_what_the_policy_allows(
    tmp_path: Path, shape: str
) -> None:
    require_bundle()
    chromium = require_binary("chromium", apt="chromium")
    port = free_port()
    callback = f"http://127.0.0.1:{port}/api/auth/oidc/handler/frame"
    with oidc_provider(
        client_id="backstage",
        client_secret="backstage-secret",
        redirect_uri=callback,
        accounts={"chiara": CHIARA},
        log=tmp_path / "idp.log",
    ) as issuer:
        oidc = {
            "clientId": "backstage",
            "clientSecret": "backstage-secret",
            "metadataUrl": f"{issuer}/.well-known/openid-configuration",
            "prompt": "auto",
            "signIn": {"resolvers": [{"resolver": "emailMatchingUserEntityProfileEmail"}]},
        }
        extra = {
            "auth": {
                "environment": "development",
                "session": {"secret": "a-session-secret-for-the-app-test"},
                "providers": {"oidc": {"development": oidc}},
            },
            "permission": {"enabled": True, "policy": POLICY},
        }
        start = all_unit if shape == "all" else split_units
        with start(tmp_path, extra, port=port) as deployment:
            wait_until(lambda: catalog_holds(deployment, 6), "catalog", deployment, 300)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox"]
                )
                try:
                    page = browser.new_page(viewport={"width": 1400, "height": 900})
                    page.set_default_timeout(TIMEOUT_MS)
                    watched = PageProblems(
                        page,
                        expected=(
                            # before signing in, the page asks whether a session exists
                            "/api/auth/oidc/refresh?optional",
                            # the entity the policy hides: not found
                            "/by-name/component/default/storefront-web",
                        ),
                    )
                    sign_in_with_oidc(page, deployment)
                    restricted_views(page, deployment)
                    assert watched.problems == [], "\n".join(watched.problems)
                finally:
                    browser.close()


def sign_in_with_oidc(page: Page, deployment: Deployment) -> None:
    page.goto(deployment.url)
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Sign in").click()
    popup = opened.value
    popup.locator("input[name=login]").fill("chiara")
    popup.locator("input[name=password]").fill("any-password")
    popup.locator("button[type=submit]").click()
    popup.locator("button[type=submit]").click()  # the consent form
    popup.wait_for_event("close")


def restricted_views(page: Page, deployment: Deployment) -> None:
    # The list: only what payments (her group) owns.
    rows = page.get_by_role("row")
    expect(
        rows.filter(has=page.get_by_role("link", name="Checkout service", exact=True))
    ).to_contain_text("payments")
    # of the six components, the two payments owns: all she may read is all she owns
    expect(page.get_by_role("menuitem", name="Owned 2")).to_be_visible()
    page.get_by_role("menuitem", name="All 2").click()
    expect(page.get_by_text("All Components (2)")).to_be_visible()
    expect(page.get_by_role("link", name="Storefront web app", exact=True)).to_have_count(0)
    screenshot(page, "restricted-catalog-list")
    # An entity she may not read is not found.
    page.goto(f"{deployment.url}/catalog/default/component/storefront-web")
    expect(page.get_by_text(re.compile("not found", re.IGNORECASE)).first).to_be_visible()
    # Search shows only what she may read.
    page.goto(f"{deployment.url}/search?query=checkout")
    expect(page.get_by_text("Turns baskets into orders.")).to_be_visible()
    page.goto(f"{deployment.url}/search?query=storefront")
    expect(
        page.get_by_text(re.compile(r"\b0 results|no results", re.IGNORECASE)).first
    ).to_be_visible()
    expect(page.get_by_text("The shop customers see.")).to_have_count(0)
