"""A new merchant owner's first hour (issue 22), in a real browser: values no merchant could mean are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.steps import expect, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def empty_shop(transactional_db):
    """An account and its owner, without receipts: enough for the rule pages."""
    from loyalty.accounts.scopes import Role
    from tests.accounts.factories import AccountFactory, MembershipFactory, UserFactory

    account = AccountFactory(aid="T00000001", name="Demo Shop")
    MembershipFactory(user=UserFactory(username="demo"), account=account, role=Role.OWNER)
    return account


@pytest.mark.allow_console("status of 400")
def test_a_150_percent_discount_is_refused_on_the_new_rule_form(page, empty_shop, shot):
    from discounts.models import DiscountRule

    sign_in(page)
    page.goto(f"/a/{empty_shop.aid}/discount-rules/new/")
    page.get_by_label("Rule name").fill("Half price and then some")
    page.get_by_label("Valid from").fill("2026-01-01")
    page.get_by_label("Valid to").fill("2026-12-31")
    page.get_by_label("Reward", exact=True).select_option("discount_percent")
    page.get_by_label("Reward value").fill("150")
    page.get_by_role("button", name="Save rule").click()

    error = page.locator("#rule-form").get_by_text("A percentage can be at most 100")
    expect(error).to_be_visible()
    assert page.get_by_label("Reward value").input_value() == "150"
    assert not DiscountRule.objects.exists()
    shot(page, "rule-form-150-percent")


def test_a_filtered_receipts_list_shows_its_exact_count(page, demo_shop, shot):
    from receipts.models import Receipt

    sign_in(page)
    page.goto(f"/a/{demo_shop.aid}/receipts/?store=S002&min=100")
    expected = Receipt.objects.filter(account=demo_shop, store_id="S002", gross_amount__gte=10000).count()

    counter = page.locator("#receipts-count")
    assert counter.get_attribute("data-count") == str(expected)
    assert counter.inner_text() == f"{expected:,}".replace(",", "\u202f") + " receipts match."
    shot(page, "receipts-filtered-count")
    # and exporting gives the same receipts as CSV
    with page.expect_download() as download:
        page.locator("#receipts-export").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert download.value.suggested_filename.startswith(f"receipts-{demo_shop.aid}-")
    assert lines[0].startswith("purchased_at,receipt_id,store_id") and len(lines) == expected + 1
    assert {line.split(",")[2] for line in lines[1:]} == {"S002"}
