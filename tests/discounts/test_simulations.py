"""Dry runs: a rule replayed over past receipts through the till's evaluator, with simulated usage only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from discounts.models import DiscountRef, DiscountUsage, Simulation
from discounts.services.simulations import simulation_run, simulation_start
from receipts.services.ingest import receipt_ingest
from segments.models import SegmentRun
from segments.services import segments as segment_services
from segments.services.runs import segment_recalculate
from tests.discounts.factories import give, rule
from tests.receipts.factories import line, receipt

pytestmark = pytest.mark.django_db(transaction=True)

DAY = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
TWICE = {
    "name": "5 kr off, twice",
    "requirement": {"purchase_from": "2026-11-01T00:00:00Z", "purchase_to": "2027-01-01T00:00:00Z"},
    "reward": {"type": "discount_amount", "value": 500},
    "limitation": {"discount_repeat_usage": 2},
}


def bought(account, customer, at, *, item="sku-1", amount=10000):
    return receipt(customer_id=customer, purchase_at=at, items=[line(item, amount=amount)])


@pytest.fixture
def history(account):
    documents = [
        bought(account, "A", DAY),
        bought(account, "A", DAY + timedelta(days=1), item="sku-2"),
        bought(account, "A", DAY + timedelta(days=1, hours=2)),  # the third: used up
        bought(account, "B", DAY + timedelta(days=5)),
        bought(account, "B", DAY - timedelta(days=10)),  # before the period
        bought(account, "C", DAY + timedelta(days=40)),  # after it
        receipt(customer_id=None, purchase_at=DAY),  # without a customer: not replayed
    ]
    receipt_ingest(account=account, documents=documents, created_by="t")
    return account


def run(simulation):
    done = simulation_run(simulation_id=simulation.id)
    assert done.status == "succeeded", done.error_message
    return done


def test_a_replay_counts_cost_per_day_items_and_reasons(history):
    given = rule(history, TWICE)
    # the live ledger says A has used it up already: a dry run must not read it (nor write to it)
    give(history, given, "A")
    DiscountUsage.objects.create(
        account=history,
        rule=given,
        ref=DiscountRef.objects.get(rule=given),
        customer_id="A",
        source="receipt_add",
        source_key="live",
        purchase_key="live",
        usage=1,
        amount=500,
        at=DAY - timedelta(days=1),
    )
    simulation = simulation_start(
        account=history, rule=given, document=None, period_from=START, period_to=END, customers="*", actor="t"
    )
    result = run(simulation).result
    assert result["receipts_total"] == result["receipts_evaluated"] == 4
    assert (result["receipts_applied"], result["customers_applied"], result["customers_evaluated"]) == (3, 2, 2)
    assert result["cost"] == 1500 and result["bonus"] == 0
    assert result["per_day"] == [
        {"date": "2026-03-02", "receipts": 1, "cost": 500},
        {"date": "2026-03-03", "receipts": 1, "cost": 500},
        {"date": "2026-03-07", "receipts": 1, "cost": 500},
    ]
    assert result["top_items"] == [{"item_id": "sku-1", "cost": 1000}, {"item_id": "sku-2", "cost": 500}]
    assert result["not_applied"] == [
        {
            "reason": "limitation.discount_repeat_usage",
            "description": "the ref is used up (discount_repeat_usage)",
            "receipts": 1,
        }
    ]
    assert DiscountUsage.objects.count() == 1  # the live ledger is as it was


def test_given_and_segment_customers_narrow_the_replay(history):
    given = rule(history, TWICE)
    give(history, given, "B")
    simulation = simulation_start(
        account=history, rule=given, document=None, period_from=START, period_to=END, customers="given", actor="t"
    )
    assert run(simulation).result["receipts_evaluated"] == 1
    segment = segment_services.segment_create(
        account=history,
        data={"name": "A only", "parts": [{"criteria": [{"type": "customer_list", "customers": ["A"]}]}]},
        actor="t",
    )
    segment_recalculate(run_id=SegmentRun.objects.get(segment=segment).pk)
    draft = {**TWICE, "limitation": {}}  # a draft without the limit: every receipt of A
    simulation = simulation_start(
        account=history,
        rule=None,
        document=draft,
        period_from=START,
        period_to=END,
        customers=f"segment:{segment.uuid}",
        actor="t",
    )
    result = run(simulation).result
    assert (result["receipts_evaluated"], result["receipts_applied"], result["cost"]) == (3, 3, 1500)


class TestApi:
    base = "/v1/accounts/T00000001/discounts"

    @pytest.mark.integration
    def test_simulate_through_the_worker(self, celery_worker, api, history, wait_for):
        given = rule(history, TWICE)
        body = {"from": "2026-03-01", "to": "2026-03-31", "customers": "*"}
        response = api.post(f"{self.base}/rules/{given.pk}/simulate", body, format="json")
        assert response.status_code == 202
        url = f"{self.base}/simulations/{response.json()['id']}"
        done = wait_for(lambda: (r := api.get(url).json())["status"] == "succeeded" and r, message="the dry run")
        assert (done["progress"], done["receipts_done"], done["result"]["cost"]) == (100, 4, 1500)
        assert done["rule_id"] == str(given.pk)
        assert done["from"] == "2026-02-28T23:00:00Z"  # the start of March 1st in Oslo, the account's timezone

    def test_a_draft_is_simulated_without_a_rule(self, api, history):
        response = api.post(f"{self.base}/simulations", {"rule": TWICE, "from": "2026-03-01"}, format="json")
        assert response.status_code == 202
        simulation = Simulation.objects.get(pk=response.json()["id"])
        assert simulation.rule_id is None and simulation.document["name"] == "5 kr off, twice"
        result = run(simulation).result  # from March 1st until now: C's April purchase too
        assert (result["receipts_evaluated"], result["receipts_applied"]) == (5, 4)

    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            ("rules/RULE/simulate", {"customers": "everyone"}, "customers"),
            ("rules/RULE/simulate", {"customers": "segment:00000000-0000-0000-0000-000000000000"}, "customers"),
            ("rules/RULE/simulate", {"from": "2026-03-05", "to": "2026-03-01"}, "to"),
            ("rules/RULE/simulate", {"from": "2024-01-01", "to": "2026-03-01"}, "to"),
            ("rules/RULE/simulate", {"from": "soon"}, "from"),
            ("rules/RULE/simulate", {"rule": {"name": "no reward"}}, "rule.reward"),
            ("simulations", {}, "rule"),
            ("simulations", {"rule": TWICE, "customers": "given"}, "customers"),
        ],
    )
    def test_bad_input_is_400_naming_the_field(self, api, history, path, body, field):
        given = rule(history, TWICE)
        response = api.post(f"{self.base}/{path.replace('RULE', str(given.pk))}", body, format="json")
        assert response.status_code == 400, response.json()
        assert field in [e["path"] for e in response.json()["error"]["errors"]]
        assert not Simulation.objects.exists()

    def test_tenancy_and_scopes(self, api, api_for, history, other_account):
        given = rule(history, TWICE)
        simulation = simulation_start(
            account=history, rule=given, document=None, period_from=START, period_to=END, customers="*", actor="t"
        )
        url = f"{self.base}/simulations/{simulation.pk}"
        assert api.get(url).status_code == 200
        theirs = api_for(other_account)
        assert theirs.get(url).status_code == 403
        assert theirs.get(url.replace("T00000001", other_account.aid)).status_code == 404
        assert (
            theirs.post(
                f"/v1/accounts/{other_account.aid}/discounts/rules/{given.pk}/simulate", {}, format="json"
            ).status_code
            == 404
        )
        assert api_for(history, ["read:receipts"]).get(url).status_code == 403
        assert (
            api_for(history, ["read:discounts"])
            .post(f"{self.base}/rules/{given.pk}/simulate", {}, format="json")
            .status_code
            == 403
        )
        assert api.get(f"{self.base}/simulations/not-an-id").status_code == 404
