"""Steps the browser tests share: signing in, reading a live count, Playwright's `expect`."""

from __future__ import annotations

import re

PASSWORD = "correct horse battery staple"  # the staff factory's
NUMBER = re.compile(r"^\d+$")


def expect(locator):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def sign_in(page, username: str = "demo", password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/a/*/")


def count(page, selector: str) -> int:
    """The number a live counter shows once it has one (`data-count`)."""
    expect(page.locator(selector)).to_have_attribute("data-count", NUMBER)
    return int(page.locator(selector).get_attribute("data-count"))
