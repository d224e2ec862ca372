"""The holdout on the push form and the impact panel, as a merchant sees them at a desktop and a phone width."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from discounts import holdouts
from discounts.models import PushAssignment, PushLink, PushRun
from discounts.pushes import push_execute
from discounts.services import rule_create
from receipts.services.ingest import receipt_ingest
from segments.models import SegmentRun
from segments.services import segments as services
from segments.services.runs import segment_recalculate
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.steps import expect, sign_in

BUYERS = [{"criteria": [{"type": "transaction_count", "min": 1}]}]


def extra_purchases(account, customers, entered):
    """Two purchases of 450 NOK each after entering for every customer who got the rule: a clear effect."""
    documents = [
        {
            "store": {"id": "S-e2e"},
            "receipt_id": f"E{n}-{k}",
            "purchase_at": (entered + timedelta(days=3 + 20 * k, hours=n % 24)).isoformat(),
            "currency": "NOK",
            "customer_id": customer,
            "gross_amount": 45000,
            "net_amount": 45000,
            "items": [{"id": "coffee", "line_id": 1, "quantity": 1, "gross_amount": 45000, "net_amount": 45000}],
        }
        for n, customer in enumerate(customers)
        for k in range(2)
    ]
    for start in range(0, len(documents), 1000):
        receipt_ingest(account=account, documents=documents[start : start + 1000], created_by="e2e")


@pytest.mark.django_db(transaction=True)
def test_push_with_a_holdout_then_read_the_impact(page, demo_shop, shot, monkeypatch):
    monkeypatch.setattr(holdouts, "new_seed", lambda: 20261205)
    segment = services.segment_create(account=demo_shop, data={"name": "Buyers", "parts": BUYERS}, actor="t")
    segment_recalculate(run_id=SegmentRun.objects.get(segment=segment).pk)
    rule = rule_create(
        account=demo_shop,
        document={
            "name": "10 % off coffee",
            "requirement": {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2099-01-01T00:00:00Z"},
            "reward": {"type": "discount_percent", "value": 10},
        },
        actor="t",
    )
    segment_url = reverse("web:segment", kwargs={"aid": demo_shop.aid, "segment_id": segment.uuid})

    # a merchant pushes the segment onto the rule, holding out 20 %
    sign_in(page)
    page.goto(segment_url)
    page.get_by_label("Discount rule", exact=True).select_option(label="10 % off coffee")
    holdout = page.get_by_label("Holdout (%)")
    expect(page.locator("#push-form")).to_contain_text("always the same people")
    holdout.fill("20")
    page.get_by_role("button", name="Push to rule").click()
    expect(page.locator(".message")).to_contain_text("Push queued")
    for run in PushRun.objects.filter(status="queued"):
        push_execute(push_id=run.pk)
    link = PushLink.objects.get(rule=rule)
    assert link.holdout_percent == 20 and 0 < link.held_out_count < link.assigned_count

    # two months later (the link and its entries moved back in time), those who got it bought more
    entered = timezone.now() - timedelta(days=60)
    PushAssignment.objects.filter(link=link).update(assigned_at=entered)
    PushLink.objects.filter(pk=link.pk).update(created_at=entered)
    treated = PushAssignment.objects.filter(link=link, held_out=False).values_list("customer__customer_id", flat=True)
    extra_purchases(demo_shop, list(treated), entered)

    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(segment_url)
        panel = page.locator(".impact-slot")
        expect(panel.locator(".impact-sentence")).to_contain_text("Customers who got 10 % off coffee spent")
        expect(panel.locator(".impact-sentence")).to_contain_text("more per person than the holdout (95 % CI +")
        expect(panel.locator("canvas[data-chart='impact']")).to_be_visible()
        expect(page.locator("#push-title + p + ul")).to_contain_text(f"holdout 20 %: {link.held_out_count} of")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        panel.scroll_into_view_if_needed()
        shot(page, f"impact-segment-{width}")
        panel.screenshot(path=str(SCREENSHOTS / f"impact-panel-{width}.png"))  # the panel alone, to read it

        # the members list shows who is held out
        page.get_by_label("Show").select_option(label="Held out of 10 % off coffee")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#members-table tbody tr")).to_have_count(min(link.held_out_count, 25))

        page.goto(reverse("web:rule", kwargs={"aid": demo_shop.aid, "rule_id": rule.pk}))
        expect(page.locator(".impact-sentence")).to_contain_text("Customers who got 10 % off coffee spent")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"impact-rule-{width}")


@pytest.mark.django_db(transaction=True)
def test_simulate_a_rule_over_past_receipts(page, demo_shop, shot):
    from discounts.models import Simulation
    from discounts.services.simulations import simulation_run

    rule = rule_create(
        account=demo_shop,
        document={
            "name": "50 kr off from 500 kr",
            "requirement": {
                "purchase_from": "2030-01-01T00:00:00Z",
                "purchase_to": "2031-01-01T00:00:00Z",
                "gross_amount": 50000,
            },
            "reward": {"type": "discount_amount", "value": 5000},
            "limitation": {"discount_repeat_usage": 3},
        },
        actor="t",
    )
    rule_url = reverse("web:rule", kwargs={"aid": demo_shop.aid, "rule_id": rule.pk})
    sign_in(page)
    page.goto(rule_url)
    expect(page.locator("#simulate")).to_contain_text("cannot tell whether they would have bought more")
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator("#run-progress")).to_contain_text("Waiting for a worker")
    simulation = Simulation.objects.get(rule=rule)
    simulation_run(simulation_id=simulation.pk)  # what the worker does; the page reloads itself when it is done
    expect(page.locator("#sim-cost")).to_contain_text("NOK", timeout=20_000)
    result = Simulation.objects.get(pk=simulation.pk).result
    assert result["receipts_applied"] > 0 and result["cost"] == 5000 * result["receipts_applied"]
    expect(page.locator("#sim-reasons")).to_contain_text("The ref is used up")
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        expect(page.locator("canvas[data-chart='bar']")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"simulation-{width}")
        page.goto(rule_url)
        expect(page.locator("#simulations-table")).to_contain_text("Succeeded")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"rule-simulate-{width}")
        page.go_back()
