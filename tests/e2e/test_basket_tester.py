"""The basket tester in a real browser: staff build a purchase by keyboard, see the discount the till gets and why
another rule did not apply; at desktop and phone widths, without sideways scrolling."""

from __future__ import annotations

import pytest

from tests.e2e.steps import expect, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop_with_rules(transactional_db):
    from loyalty.accounts.scopes import Role
    from receipts.models import ItemCode
    from tests.accounts.factories import AccountFactory, MembershipFactory, UserFactory
    from tests.discounts.factories import discount, give, item_discount, rule

    account = AccountFactory(aid="T00000001", name="Demo Shop")
    MembershipFactory(user=UserFactory(username="demo"), account=account, role=Role.OWNER)
    chairs = rule(
        account,
        item_discount({"group_id": "chairs"}, name="Chairs -20%", reward={"type": "discount_percent", "value": 20}),
    )
    evening = rule(
        account,
        discount(
            name="Evening 50,-",
            reward={"type": "discount_amount", "value": 5000},
            limitation={
                "discount_hours": {
                    "timezone": "Europe/Oslo",
                    "hours": [{"day": "mon", "start": "18:00", "end": "21:00"}],
                }
            },
        ),
    )
    ItemCode.objects.create(account=account, kind=ItemCode.Kind.STORE, value="S001", name="Oslo City")
    give(account, chairs, "C42")
    give(account, evening, "*")
    return account


def test_build_a_basket_and_read_why(page, shop_with_rules, shot):
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page)
    page.goto("/a/T00000001/discount-rules/")
    page.get_by_role("link", name="Basket tester").click()
    page.wait_for_url("**/discount-rules/basket/")

    # by keyboard: customer, then the first item's id, groups, quantity and amount; Enter submits
    expect(page.get_by_label("Store id")).to_have_value("S001")  # the account's first store, not a made-up one
    page.get_by_label("Customer id").fill("C42")
    page.get_by_label("Purchase time").fill("2026-06-03T12:00")  # a Wednesday noon
    page.get_by_label("Item 1 id").fill("chair-oak")
    page.keyboard.press("Tab")
    page.keyboard.type("chairs")
    page.keyboard.press("Tab")
    page.keyboard.type("2")
    page.keyboard.press("Tab")
    page.keyboard.type("1499.00")
    page.get_by_label("Item 2 id").fill("lamp")
    page.get_by_label("Item 2 amount").fill("300")
    page.get_by_label("Item 2 amount").press("Enter")

    result = page.locator("#basket-result")
    expect(result).to_be_visible()
    expect(page.locator("#basket-discount")).to_have_text("299.80\u202fNOK")  # 20 % of 1,499.00
    expect(page.locator("#basket-applied")).to_contain_text("Chairs -20%")
    why = page.locator("#basket-explain")
    expect(why).to_contain_text("Evening 50,-")
    expect(why).to_contain_text("Outside the rule's opening hours")
    shot(page, "basket-tester-1366")

    page.set_viewport_size({"width": 390, "height": 844})
    reason = why.get_by_text("Outside the rule's opening hours")
    reason.scroll_into_view_if_needed()
    box = reason.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390  # readable without scrolling sideways
    shot(page, "basket-tester-390")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0  # the page never scrolls sideways; the item table scrolls inside its card
