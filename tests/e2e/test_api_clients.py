"""API clients in a real browser: an owner creates one, sees its secret once, and revokes it, keyboard only for
the form; at desktop and phone widths."""

from __future__ import annotations

import pytest

from tests.e2e.steps import expect, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def owned_shop(transactional_db):
    from loyalty.accounts.scopes import Role
    from loyalty.accounts.services import api_client_create
    from tests.accounts.factories import AccountFactory, MembershipFactory, UserFactory

    account = AccountFactory(aid="T00000001", name="Demo Shop")
    MembershipFactory(user=UserFactory(username="demo"), account=account, role=Role.OWNER)
    api_client_create(account=account, name="Till system", scopes=["admin:receipts", "read:receipts"])
    return account


def test_create_see_the_secret_once_and_revoke(page, owned_shop, shot):
    from loyalty.accounts.models import ApiClient

    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page)
    page.get_by_role("link", name="API clients", exact=True).click()
    page.wait_for_url("**/api-clients/")
    expect(page.locator("#api-clients-table")).to_contain_text("Till system")
    shot(page, "api-clients-1366")

    # the form, by keyboard: a name, two scopes by space, submit by Enter
    page.get_by_role("link", name="New API client").click()
    page.get_by_label("Name").fill("Member app backend")
    page.get_by_label("Name").press("Tab")
    page.keyboard.press("Space")  # the first scope: admin:receipts
    assert page.locator("input[value='admin:receipts']").is_checked()
    page.locator("input[value='admin:discounts']").focus()
    page.keyboard.press("Space")
    assert page.locator("input[name=scopes][value^='user:']").count() == 0
    shot(page, "api-client-form-1366")
    page.get_by_role("button", name="Create API client").press("Enter")

    # the secret shows on the answer, once
    expect(page.get_by_role("heading", level=1)).to_contain_text("Member app backend")
    secret = page.get_by_label("Client secret").input_value()
    client = ApiClient.objects.get(name="Member app backend")
    assert len(secret) > 30 and client.scopes == ["admin:discounts", "admin:receipts"]
    assert page.get_by_label("Client id").input_value() == client.client_id
    shot(page, "api-client-created-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "api-client-created-390")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("link", name="Done").click()
    page.wait_for_url("**/api-clients/")
    assert secret not in page.content()

    # revoking asks first
    page.get_by_role("link", name="Revoke Member app backend").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Revoke “Member app backend”?")
    page.get_by_role("button", name="Revoke client").click()
    page.wait_for_url("**/api-clients/")
    expect(page.locator(".messages")).to_contain_text("revoked")
    row = page.locator("#api-clients-table tr", has_text="Member app backend")
    expect(row.locator(".badge")).to_have_text("Revoked")
    client.refresh_from_db()
    assert not client.active
    shot(page, "api-clients-after-revoke-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "api-clients-390")
    # nothing runs wider than the phone's screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
