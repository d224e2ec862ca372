"""A rule's redemptions on its page (totals, a chart per day, the customers who used it most, linked) and a
customer's refs with their usage, at a desktop and a phone width."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from discounts.models import DiscountRef
from discounts.services.claims import claim_create, claim_release
from receipts.models import Customer
from tests.discounts.factories import discount, give, rule
from tests.e2e.steps import expect, sign_in


def _claim(account, made, ref, customer_id: str, key: str, days_ago: int, amount: int) -> str:
    at = (timezone.now() - timedelta(days=days_ago)).isoformat()
    body = {"ref": key, "purchase_at": at, "customer_id": customer_id,
            "discounts": [{"id": str(made.id), "refs": [{"id": str(ref.id), "amount": amount, "usage": 1}]}]}  # fmt: skip
    claim, _ = claim_create(account=account, body=body, actor="pos")
    return str(claim.id)


@pytest.mark.django_db(transaction=True)
def test_a_rules_redemptions_and_a_customers_refs(page, demo_shop, shot):
    # given a rule given to three customers of the shop, used on several days, one claim released
    customers = list(Customer.objects.filter(account=demo_shop).order_by("customer_id")[:3])
    made = rule(demo_shop, discount(name="Coffee -20", limitation={"discount_repeat_usage": 10}))
    give(demo_shop, made, *[c.customer_id for c in customers])
    refs = {ref.customer_id: ref for ref in DiscountRef.objects.filter(rule=made)}
    top, second, third = customers
    for n in range(4):
        _claim(demo_shop, made, refs[top.customer_id], top.customer_id, f"a{n}", days_ago=n * 3, amount=2000)
    _claim(demo_shop, made, refs[second.customer_id], second.customer_id, "b0", days_ago=5, amount=1500)
    released = _claim(demo_shop, made, refs[third.customer_id], third.customer_id, "c0", days_ago=1, amount=9900)
    claim_release(account=demo_shop, claim_id=released, actor="pos")

    sign_in(page)
    rule_url = reverse("web:rule", kwargs={"aid": demo_shop.aid, "rule_id": made.pk})
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        # when staff open the rule's page
        page.goto(rule_url)

        # then the totals leave the released claim out, the chart is drawn, the top customer comes first
        totals = page.locator("#redemption-totals")
        expect(totals.locator("[data-total=usage]")).to_have_text("5")
        expect(totals.locator("[data-total=amount]")).to_contain_text("95.00")
        expect(page.locator("canvas[data-chart=redemptions]")).to_be_visible()
        rows = page.locator("#redemption-customers tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text(top.customer_id)
        expect(rows.first).to_contain_text("80.00")
        no_sideways = page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        assert no_sideways, f"the rule page scrolls sideways at {width} px"
        shot(page, f"rule-redemptions-{width}")

        # and the top customer's name leads to their page, which shows their ref with its usage
        rows.first.get_by_role("link", name=top.customer_id).click()
        page.wait_for_url(f"**/customers/{top.pk}/")
        held = page.locator("#customer-refs tbody tr", has_text="Coffee -20")
        expect(held).to_contain_text("4")
        expect(held).to_contain_text("80.00")
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        shot(page, f"customer-refs-{width}")


@pytest.mark.django_db(transaction=True)
def test_an_unused_rule_says_so(page, demo_shop):
    made = rule(demo_shop, discount(name="Never used"))
    sign_in(page)
    page.goto(reverse("web:rule", kwargs={"aid": demo_shop.aid, "rule_id": made.pk}))
    expect(page.locator("#redemptions")).to_contain_text("Not used in the last 90 days.")
    expect(page.locator("#redemptions")).to_contain_text("Nobody has used it yet.")
