"""Browser tests: a real Chromium (Debian's /usr/bin/chromium) driven by playwright's sync API
against pytest-django's `live_server` (a real HTTP server on a transactional test database).

How to write one::

    def test_something(page, live_server, sign_in):
        user = UserFactory()                      # committed: live_server means transactional_db
        sign_in(page, user.username, PASSWORD)    # from tests.factories
        page.goto(live_server.url + "/account/")
        expect(page.get_by_role("heading", name="My subject")).to_be_visible()

Every test in tests/e2e/ is marked `e2e` automatically (`pytest -m "not e2e"` skips them).
`page` is a fresh browser context per test (own cookies); the browser itself is shared by
the session. Playwright's sync API runs an event loop in the main thread, so Django's
"async unsafe" guard is switched off for these tests. A missing /usr/bin/chromium fails the
tests loudly; `make test` installs it via platform/scripts/ensure-browser.sh.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("ENTREPOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"No Chromium at {CHROMIUM}: the browser tests need Debian's chromium. "
            "Run `make browser` (platform/scripts/ensure-browser.sh) or `make test`, which installs it."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, live_server):
    """A new page in a fresh context (no cookies) whose relative URLs resolve against the
    live server: `page.goto("/registry/")` works."""
    context = browser.new_context(base_url=live_server.url, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def sign_in(live_server):
    """`sign_in(page, username, password)`: signs in through the real login form and waits
    until the header shows the user as signed in."""
    from playwright.sync_api import expect

    def do_sign_in(page, username: str, password: str):
        page.goto(live_server.url + "/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_test_id("signed-in-as")).to_contain_text(username)
        return page

    return do_sign_in
