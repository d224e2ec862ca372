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


PHONE = {"width": 390, "height": 844}


def _every_page(account) -> dict[str, str]:
    """A URL of each page the back-office has, with a segment, a receipt, a customer and a rule to show: the rule
    used once (its page draws redemptions), in a campaign, given by an automation."""
    from django.urls import reverse

    from discounts.services import automations, campaigns, rule_create
    from discounts.services.claims import claim_create
    from receipts.models import Customer, Receipt
    from segments.services.segments import segment_create
    from tests.discounts.factories import give

    segment = segment_create(
        account=account,
        data={"name": "Regulars", "parts": [{"criteria": [{"type": "transaction_count", "min": 3}]}]},
        actor="e2e",
    )
    campaign = campaigns.campaign_create(account=account, body={"name": "Summer", "campaign_id": "summer"}, actor="e2e")
    rule = rule_create(
        account=account,
        document={
            "name": "Ten percent off for regulars",
            "campaign_id": "summer",
            "requirement": {"purchase_from": "2026-01-01T00:00:00Z", "purchase_to": "2027-01-01T00:00:00Z"},
            "reward": {"type": "discount_percent", "value": 10},
        },
        actor="e2e",
    )
    receipt = Receipt.objects.filter(account=account, customer_pk__isnull=False).order_by("-purchase_at").first()
    customer = Customer.objects.get(pk=receipt.customer_pk_id)
    give(account, rule, customer.customer_id)
    ref = rule.refs.get(customer_id=customer.customer_id)
    claim = {"discounts": [{"id": str(rule.id), "refs": [{"id": str(ref.id), "amount": 2500, "usage": 1}]}]}
    used = {"ref": "k1", "purchase_at": receipt.purchase_at.isoformat(), "customer_id": customer.customer_id}
    claim_create(account=account, body={**used, **claim}, actor="pos")
    automation, _ = automations.automation_create(
        account=account,
        body={
            "name": "Welcome",
            "requirement": {
                "events": ["receipt_add"],
                "automation_from": "2026-01-01T00:00:00Z",
                "automation_to": "2027-01-01T00:00:00Z",
            },
            "actions": [{"type": "discount", "id": str(rule.id)}],
        },
        actor="e2e",
    )
    aid = {"aid": account.aid}
    return {
        "dashboard": reverse("web:dashboard", kwargs=aid),
        "receipts": reverse("web:receipts", kwargs=aid),
        "receipt": reverse("web:receipt", kwargs={**aid, "pk": receipt.pk}),
        "customers": reverse("web:customers", kwargs=aid),
        "customer": reverse("web:customer", kwargs={**aid, "pk": customer.pk}),
        "segments": reverse("web:segments", kwargs=aid),
        "segment": reverse("web:segment", kwargs={**aid, "segment_id": segment.uuid}),
        "segment-form": reverse("web:segment-edit", kwargs={**aid, "segment_id": segment.uuid}),
        "rules": reverse("web:rules", kwargs=aid),
        "rule": reverse("web:rule", kwargs={**aid, "rule_id": rule.pk}),
        "rule-form": reverse("web:rule-edit", kwargs={**aid, "rule_id": rule.pk}),
        "rule-duplicate": reverse("web:rule-duplicate", kwargs={**aid, "rule_id": rule.pk}),
        "segments-sorted": reverse("web:segments", kwargs=aid) + "?q=reg&sort=largest",
        "api-clients": reverse("web:api-clients", kwargs=aid),
        "basket": reverse("web:basket", kwargs=aid),
        "campaigns": reverse("web:campaigns", kwargs=aid),
        "campaign": reverse("web:campaign", kwargs={**aid, "campaign_pk": campaign.pk}),
        "automations": reverse("web:automations", kwargs=aid),
        "automation": reverse("web:automation", kwargs={**aid, "automation_id": automation.pk}),
    }


@pytest.mark.parametrize("width", [390, 1366])
def test_no_page_scrolls_sideways_at_390_or_1366_px(page, demo_shop, shot, width):
    pages = _every_page(demo_shop)
    sign_in(page)
    page.set_viewport_size({"width": width, "height": 844})
    wide = {}
    for name, url in pages.items():
        page.goto(url)
        expect(page.locator("h1")).to_be_visible()
        if name == "rule":
            expect(page.locator("canvas[data-chart=redemptions]")).to_be_visible()
        scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll_width > inner_width:
            wide[name] = scroll_width
        shot(page, f"{width}-{name}")
    assert not wide, f"pages wider than {width} px: {wide}"


def test_at_390_px_the_navigation_is_a_menu_the_keyboard_opens(page, demo_shop, shot):
    sign_in(page)
    page.set_viewport_size(PHONE)
    toggle = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    # the links are folded away behind one button
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    # when it is reached with Tab and opened with Enter
    toggle.focus()
    page.keyboard.press("Enter")
    # then the links show, and Tab reaches them
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    shot(page, "390-menu-open")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Dashboard"
    # Escape folds it again and gives the focus back to the button
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == "mainnav-menu"
    # and following a link works from the open menu
    page.keyboard.press("Space")
    page.get_by_role("link", name="Receipts", exact=True).click()
    page.wait_for_url("**/receipts/")
    # at 1366 px there is no menu button: the links are in the bar
    page.set_viewport_size({"width": 1366, "height": 900})
    expect(toggle).to_be_hidden()
    expect(nav).to_be_visible()
