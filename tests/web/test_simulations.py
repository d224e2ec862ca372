"""The rule page's "Simulate": the form, the progress, the result page, and who may see what."""

from __future__ import annotations

import pytest
from django.urls import reverse

from discounts.models import Simulation
from discounts.services import rule_create
from discounts.services.simulations import simulation_run

pytestmark = pytest.mark.django_db(transaction=True)


def url(name, account, **kwargs):
    return reverse(f"web:{name}", kwargs={"aid": account.aid, **kwargs})


@pytest.fixture
def rule(shop):
    return rule_create(
        account=shop,
        document={
            "name": "20 kr off",
            "requirement": {"purchase_from": "2030-01-01T00:00:00Z", "purchase_to": "2031-01-01T00:00:00Z"},
            "reward": {"type": "discount_amount", "value": 2000},
        },
        actor="test",
    )


def test_simulate_from_the_rule_page(shop, owner, rule):
    page = owner.get(url("rule", shop, rule_id=rule.pk)).content.decode()
    assert 'id="simulate-form"' in page and "cannot tell whether they would have bought more" in page
    # a period over a year, and a form without dates, are refused back on the rule page, saying why
    for data, why in (
        ({"period_from": "2020-01-01", "period_to": "2099-12-31", "customers": "*"}, "at most 366 days"),
        ({"period_from": "", "period_to": "", "customers": "*"}, "This field is required"),
    ):
        response = owner.post(url("rule-simulate", shop, rule_id=rule.pk), data, follow=True)
        assert response.redirect_chain[-1][0] == url("rule", shop, rule_id=rule.pk)
        assert why in response.content.decode()
    assert not Simulation.objects.exists()

    from datetime import date, timedelta

    today = date.today()
    response = owner.post(
        url("rule-simulate", shop, rule_id=rule.pk),
        {"period_from": str(today - timedelta(days=60)), "period_to": str(today), "customers": "*"},
    )
    simulation = Simulation.objects.get()
    target = url("rule-simulation", shop, rule_id=rule.pk, simulation_id=simulation.pk)
    assert response.status_code == 302 and response["Location"] == target
    waiting = owner.get(target).content.decode()
    assert "Waiting for a worker" in waiting and "data-progress-url" in waiting
    progress = owner.get(url("rule-simulation-progress", shop, rule_id=rule.pk, simulation_id=simulation.pk)).json()
    assert (progress["status"], progress["done"]) == ("queued", False)

    simulation_run(simulation_id=simulation.pk)
    done = owner.get(target)
    # the shop's 4 purchases of known customers in 60 days; their items are not marked eligible_for_discount,
    # which the till requires, so the rule would have given nothing, and the page says why
    assert (done.context["result"]["receipts_evaluated"], done.context["result"]["receipts_applied"]) == (4, 0)
    body = done.content.decode()
    assert "No matching item has eligible_for_discount and a positive gross_amount" in body
    assert "It would not have applied to any receipt of the period." in body
    assert "Simulate" in owner.get(url("rule", shop, rule_id=rule.pk)).content.decode()


def test_viewers_read_simulations_but_cannot_start_one(shop, viewer, owner, rule):
    from datetime import date, timedelta

    owner.post(
        url("rule-simulate", shop, rule_id=rule.pk),
        {"period_from": str(date.today() - timedelta(days=30)), "period_to": str(date.today()), "customers": "*"},
    )
    simulation = Simulation.objects.get()
    assert viewer.get(url("rule-simulation", shop, rule_id=rule.pk, simulation_id=simulation.pk)).status_code == 200
    assert 'id="simulate-form"' not in viewer.get(url("rule", shop, rule_id=rule.pk)).content.decode()
    response = viewer.post(
        url("rule-simulate", shop, rule_id=rule.pk), {"period_from": "2026-01-01", "period_to": "2026-01-02"}
    )
    assert response.status_code == 403 and Simulation.objects.count() == 1


def test_other_accounts_get_nothing(shop, owner, login, other_account, rule):
    from datetime import date, timedelta

    owner.post(
        url("rule-simulate", shop, rule_id=rule.pk),
        {"period_from": str(date.today() - timedelta(days=30)), "period_to": str(date.today()), "customers": "*"},
    )
    simulation = Simulation.objects.get()
    stranger = login(other_account, username="mallory")
    for name in ("rule-simulation", "rule-simulation-progress"):
        assert stranger.get(url(name, shop, rule_id=rule.pk, simulation_id=simulation.pk)).status_code == 404
        theirs = reverse(
            f"web:{name}", kwargs={"aid": other_account.aid, "rule_id": rule.pk, "simulation_id": simulation.pk}
        )
        assert stranger.get(theirs).status_code == 404
    assert stranger.post(url("rule-simulate", shop, rule_id=rule.pk), {}).status_code == 404
    # a simulation of another rule of the account is not found under this one
    other_rule = rule_create(account=shop, document={**rule.document, "name": "other"}, actor="t")
    assert (
        owner.get(url("rule-simulation", shop, rule_id=other_rule.pk, simulation_id=simulation.pk)).status_code == 404
    )
