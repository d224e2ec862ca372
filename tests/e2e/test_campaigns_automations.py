"""Campaigns and automations as staff see them: a campaign made on its form with its rules' cost, an automation's
filter in words, its live counter moving while events arrive, and a failed action retried; desktop and phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from discounts.models import AutomationDelivery, DiscountUsage
from discounts.services.automations import automation_create, automation_events_process
from discounts.services.events import event_receive
from tests.discounts.factories import give, rule
from tests.e2e.steps import expect, sign_in

NOW = datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def receipt_arrives(account, n: int) -> None:
    receipt = {
        "id": f"0193a2b4-0000-7000-8000-{n:012d}",
        "customer_id": f"C{n}",
        "store": {"id": "S1"},
        "receipt_id": f"E{n}",
        "purchase_at": "2025-05-01T12:00:00Z",
        "gross_amount": 90000,
    }
    event_receive(account=account, event_type="receipt_add", delivery_id=f"d{n}", body={"receipt": receipt})
    automation_events_process(account_id=account.pk)


def no_sideways_scroll(page) -> None:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width


@pytest.mark.django_db(transaction=True)
def test_a_campaign_and_an_automation(page, demo_shop, shot):
    sign_in(page)
    # staff make a campaign with the keyboard
    page.goto(reverse("web:rules", kwargs={"aid": demo_shop.aid}))
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name").fill("Summer sale")
    page.get_by_label("Key").fill("summer")
    page.get_by_label("Key").press("Enter")
    expect(page.locator("h1")).to_contain_text("Summer sale")
    expect(page.locator("main")).to_contain_text("No rule names this campaign yet")

    chairs = rule(demo_shop, name="Chairs -10%", campaign_id="summer")
    rule(demo_shop, name="Tables -5%", campaign_id="summer")
    give(demo_shop, chairs, "C1")
    DiscountUsage.objects.create(
        account=demo_shop,
        rule=chairs,
        ref=chairs.refs.get(),
        customer_id="C1",
        source="claim",
        source_key="k",
        purchase_key="p",
        usage=2,
        amount=12500,
        at=NOW,
    )
    automation, _ = automation_create(
        account=demo_shop,
        body={
            "name": "Big baskets at S1",
            "requirement": {
                "events": ["receipt_add"],
                "automation_from": iso(NOW - timedelta(days=1)),
                "automation_to": iso(NOW + timedelta(days=30)),
                "filter": {"$.store.id": ["S1"], "$.gross_amount": [{"numeric": [">=", 50000]}]},
            },
            "actions": [
                {"type": "discount", "id": str(chairs.id)},
                {"type": "http", "url": "https://crm.example/hooks/loyalty", "method": "POST"},
            ],
        },
        actor="t",
    )
    receipt_arrives(demo_shop, 1)
    AutomationDelivery.objects.filter(kind="http").update(status="failed", attempts=5, error="The target answered 503.")

    automation_url = reverse("web:automation", kwargs={"aid": demo_shop.aid, "automation_id": automation.pk})
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(reverse("web:campaigns", kwargs={"aid": demo_shop.aid}))
        page.get_by_role("link", name="Summer sale").click()
        expect(page.locator("#campaign-rules-table")).to_contain_text("Tables -5%")
        expect(page.locator("#campaign-redemptions")).to_have_text("2")
        no_sideways_scroll(page)
        shot(page, f"campaign-{width}")

        page.goto(automation_url)
        expect(page.locator("#automation-filter")).to_contain_text("store is S1")
        expect(page.locator("#automation-filter")).to_contain_text("gross amount is at least 500.00 NOK")
        expect(page.locator("#deliveries-table")).to_contain_text("The target answered 503.")
        no_sideways_scroll(page)
        shot(page, f"automation-{width}")

    # the counter follows events while the page is open
    seen = page.locator('[data-count-key="seen"]')
    expect(seen).to_have_text("1")
    receipt_arrives(demo_shop, 2)
    expect(seen).to_have_text("2", timeout=10_000)
    expect(page.locator('[data-count-key="triggered"]')).to_have_text("2")

    # and a failed action is retried from its row
    page.get_by_role("button", name="Retry").first.click()
    expect(page.get_by_role("status")).to_contain_text("will be tried again")
    assert AutomationDelivery.objects.filter(kind="http", status="failed").count() == 0
