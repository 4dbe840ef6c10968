"""The pages in a real browser: `phaselog serve` in a process of its own on each
test database, and Debian's Chromium driven by Playwright (never a browser
Playwright downloads: CI installs the `chromium` package; without it a local
run skips these tests, CI fails them)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

# The API's fixtures (the app on each test database, a key per role) serve the
# pages' tests without a browser too.
from tests.api.conftest import ADMIN_KEY, bearer
from tests.api.conftest import api_settings as api_settings
from tests.api.conftest import client as client
from tests.api.conftest import keys as keys
from tests.api.serving import server
from tests.helpers.processes import PHASELOG

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no {CHROMIUM} in CI: install Debian's chromium package")
        pytest.skip(f"no {CHROMIUM}: apt-get install chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            # Root in a container has no user namespace for Chromium's sandbox.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


class Site:
    """The served phaselog: its address, and the API as the admin calls it."""

    def __init__(self, base: str, database_url: str) -> None:
        self.base = base
        self.database_url = database_url
        self.api = httpx.Client(base_url=base, headers=bearer(ADMIN_KEY), timeout=30)

    def url(self, path: str) -> str:
        return self.base + path

    def log(self, **body: Any) -> dict[str, Any]:
        answer = self.api.post("/v1/actions", json=body)
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def key(self, role: str, name: str) -> str:
        """A new API key of `role`, made as `phaselog keys create` makes one."""
        made = subprocess.run(
            [str(PHASELOG), "keys", "create", "--role", role, "--name", name],
            env={**os.environ, "PHASELOG_DATABASE_URL": self.database_url},
            capture_output=True,
            text=True,
            check=True,
        )
        return made.stdout.strip().splitlines()[-1].strip()


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    with server(database_url, 1) as (base, _process):
        made = Site(base, database_url)
        yield made
        made.api.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page: Page, site: Site, key: str = ADMIN_KEY, path: str = "/") -> None:
    """Open `path` and sign in on the form it redirects to."""
    page.goto(site.url(path))
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_load_state()
