"""Browser tests: real headless Chromium (the Debian package) driven by Playwright against `live_server`.

Without /usr/bin/chromium they skip, saying why, unless LOYALTY_E2E_REQUIRED=1 (CI), where they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("LOYALTY_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    reason = _unavailable()
    if reason:
        if os.environ.get("LOYALTY_E2E_REQUIRED") == "1":
            pytest.fail(f"browser tests are required here but cannot run: {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    # Django refuses sync ORM calls from a thread with a running event loop; Playwright's sync API keeps one in
    # the test thread while it runs, and the tests query the database between browser steps. Only while the
    # browser is up: the variable must not leak into later tests (or into their subprocesses' deploy checks).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    # a CSP violation or a script error is a failure of the page, even if the scenario got through
    # except what a test expects, e.g. the 400 of a form sent back with its errors: @pytest.mark.allow_console("…")
    allowed = ["favicon", *(text for mark in request.node.iter_markers("allow_console") for text in mark.args)]
    assert not [e for e in errors if not any(text in e for text in allowed)], errors


@pytest.fixture
def shot():
    SCREENSHOTS.mkdir(exist_ok=True)

    def _shot(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


@pytest.fixture
def demo_shop(transactional_db):
    """A realistic small shop: 3,000 generated receipts of 300 customers in 6 stores over 120 days."""
    from django.utils import timezone

    from loyalty.accounts.scopes import Role
    from receipts.services.bulk import receipts_bulk_load
    from receipts.services.generator import GeneratorSpec, ReceiptGenerator
    from tests.accounts.factories import AccountFactory, MembershipFactory, UserFactory

    account = AccountFactory(aid="T00000001", name="Demo Shop")
    AccountFactory(aid="T00000002", name="Second Shop")
    user = UserFactory(username="demo")
    MembershipFactory(user=user, account=account, role=Role.OWNER)
    spec = GeneratorSpec(
        receipts=3000, customers=300, stores=6, days=120, items=200, groups=20, seed=7, end=timezone.now()
    )
    receipts_bulk_load(account=account, receipts=ReceiptGenerator(spec), created_by="e2e", workers=1)
    return account
