"""Real statistics from the usage ledger: rules, lists, customer rules, refs; after claim, release and take-back."""

from __future__ import annotations

import pytest

from discounts import services
from discounts.models import DiscountRef
from tests.discounts.factories import ACTOR, discount, give, rule
from tests.spec import assert_response_matches

BASE = "/v1/accounts/T00000001/discounts"
CLAIMS = f"{BASE}/available_for_receipt/claims"


def held(account, *customers, **overrides):
    made = rule(account, discount(**overrides))
    give(account, made, *customers)
    return made, {ref.customer_id: ref for ref in DiscountRef.objects.filter(rule=made)}


def claim(api, made, ref, key, *, customer="c1", amount=1000, usage=1) -> dict:
    body = {
        "ref": key,
        "purchase_at": "2026-03-01T12:00:00Z",
        "customer_id": customer,
        "discounts": [{"id": str(made.id), "refs": [{"id": str(ref.id), "amount": amount, "usage": usage}]}],
    }
    response = api.post(CLAIMS, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def rule_statistics(api, made) -> dict:
    response = api.get(f"{BASE}/rules/{made.id}")
    assert_response_matches("discounts", "aid_discounts_did_get", response)
    return response.json()["statistics"]


def figures(statistics: dict) -> tuple:
    return statistics["usage"], statistics["used"], statistics["amount"], statistics["bonus"], statistics["stamp"]


@pytest.mark.django_db
class TestRuleStatistics:
    def test_claims_count_releases_do_not(self, api, account):
        made, refs = held(account, "c1", "c2")
        claim(api, made, refs["c1"], "a", amount=1000)
        second = claim(api, made, refs["c2"], "b", customer="c2", amount=500, usage=2)
        assert figures(rule_statistics(api, made)) == (3, 3, 1500, 0, 0)

        api.delete(f"{CLAIMS}/{second['id']}")

        assert figures(rule_statistics(api, made)) == (1, 1, 1000, 0, 0)

    def test_use_before_a_take_back_still_counts(self, api, account):
        made, refs = held(account, "c1")
        claim(api, made, refs["c1"], "a", amount=1000)

        services.rule_customers_take(account=account, rule=made, customer_ids=["c1"], actor=ACTOR)

        assert figures(rule_statistics(api, made)) == (1, 1, 1000, 0, 0)

    def test_every_rule_answer_carries_them(self, api, account):
        made, refs = held(account, "c1")
        claim(api, made, refs["c1"], "a", amount=700)

        put = api.put(f"{BASE}/rules/{made.id}", {"name": "renamed"}, format="json").json()
        given = api.post(f"{BASE}/rules/{made.id}/customers", {"customers": ["c3"]}, format="json").json()

        assert put["statistics"]["amount"] == given["statistics"]["amount"] == 700

    def test_a_list_reads_them_in_constant_queries(self, api, account, django_assert_max_num_queries):
        for n in range(6):
            made, refs = held(account, "c1", name=f"rule {n}")
            claim(api, made, refs["c1"], f"tx-{n}", amount=100 * (n + 1))
        debit, _ = held(account, "c1", reward={"type": "discount_debit", "value": 5000})

        with django_assert_max_num_queries(8):
            response = api.get(f"{BASE}/rules?include=statistics&limit=100")

        assert_response_matches("discounts", "aid_discounts_get", response)
        amounts = sorted(body["statistics"]["amount"] for body in response.json())
        assert amounts == [0, 100, 200, 300, 400, 500, 600]
        assert next(b for b in response.json() if b["id"] == str(debit.id))["statistics"]["debit_balance"] == 5000
        assert all("statistics" not in body for body in api.get(f"{BASE}/rules").json())

    def test_debit_balance_is_what_the_customers_refs_have_left(self, api, account):
        made, refs = held(account, "c1", "c2", "*", reward={"type": "discount_debit", "value": 5000})
        claim(api, made, refs["c1"], "a", amount=2000)
        claim(api, made, refs["c2"], "b", customer="c2", amount=9000)  # more than was left: nothing remains

        assert rule_statistics(api, made)["debit_balance"] == 3000


@pytest.mark.django_db
class TestCustomerStatistics:
    def test_a_customers_rules_show_their_own_use(self, api, account):
        made, refs = held(account, "c1", "*")
        claim(api, made, refs["c1"], "a", amount=400)
        claim(api, made, refs["*"], "b", customer="c2", amount=900)  # c2's use of the * ref
        claim(api, made, refs["*"], "c", customer="c1", amount=50)

        response = api.get(f"{BASE}/customers/c1/rules")

        assert_response_matches("discounts", "aid_discounts_customer_cid_get", response)
        by_ref = {body["ref_id"]: body["statistics"] for body in response.json()}
        assert by_ref[str(refs["c1"].id)]["amount"] == 400
        assert by_ref[str(refs["*"].id)]["amount"] == 50
        assert by_ref[str(refs["*"].id)]["current_stamp"] == 0

    def test_customer_rules_read_statistics_in_constant_queries(self, api, account, django_assert_max_num_queries):
        for n in range(5):
            made, refs = held(account, "c1", name=f"rule {n}")
            claim(api, made, refs["c1"], f"tx-{n}")
        with django_assert_max_num_queries(6):
            assert len(api.get(f"{BASE}/customers/c1/rules?limit=100").json()) == 5
