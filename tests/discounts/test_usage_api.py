"""A customer's single ref (GET, POST a usage ref, DELETE) and a rule's usages, checked against the spec."""

from __future__ import annotations

import pytest

from discounts.models import DiscountRef, DiscountUsage
from tests.discounts.factories import discount, give, rule
from tests.spec import assert_response_matches

BASE = "/v1/accounts/T00000001/discounts"
CLAIMS = f"{BASE}/available_for_receipt/claims"
GET_REF, POST_REF, DELETE_REF = (
    "aid_discounts_customer_cid_get_ref_id",
    "aid_discounts_customer_cid_post_ref_id",
    "aid_discounts_customer_cid_delete_ref_id",
)
USAGES = "aid_discounts_did_usages_get"


def held(account, *customers, **overrides):
    made = rule(account, discount(**overrides))
    give(account, made, *customers)
    return made, {ref.customer_id: ref for ref in DiscountRef.objects.filter(rule=made)}


def ref_url(customer: str, ref) -> str:
    return f"{BASE}/customers/{customer}/refs/{ref.id if hasattr(ref, 'id') else ref}"


def ok(response, operation):
    assert response.status_code == 200, response.content
    assert_response_matches("discounts", operation, response)
    return response.json()


def usage_ref(**figures) -> dict:
    return {"usage_ref": {"ref": "R-100", "ref_type": "receipt_add", **figures}}


def claim(api, made, ref, key, customer="c1", amount=1000):
    body = {
        "ref": key,
        "purchase_at": "2026-03-01T12:00:00Z",
        "customer_id": customer,
        "discounts": [{"id": str(made.id), "refs": [{"id": str(ref.id), "amount": amount, "usage": 1}]}],
    }
    response = api.post(CLAIMS, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
class TestCustomerRef:
    def test_get_shows_the_rule_and_this_customers_statistics(self, api, account):
        made, refs = held(account, "c1")
        claim(api, made, refs["c1"], "a", amount=300)

        body = ok(api.get(ref_url("c1", refs["c1"])), GET_REF)

        assert (body["id"], body["ref_id"]) == (str(made.id), str(refs["c1"].id))
        assert body["statistics"] == {"usage": 1, "used": 1, "amount": 300, "bonus": 0, "stamp": 0, "current_stamp": 0}

    def test_a_star_ref_reads_through_any_customer(self, api, account):
        made, refs = held(account, "*")
        claim(api, made, refs["*"], "a", customer="c7", amount=300)

        assert ok(api.get(ref_url("c7", refs["*"])), GET_REF)["statistics"]["amount"] == 300
        assert ok(api.get(ref_url("c8", refs["*"])), GET_REF)["statistics"]["amount"] == 0

    def test_refs_not_theirs_are_404(self, api, account):
        made, refs = held(account, "c1")
        for url in (ref_url("c2", refs["c1"]), ref_url("c1", "nope"), ref_url("c1", made.id)):
            response = api.get(url)
            assert response.status_code == 404
            assert_response_matches("discounts", GET_REF, response)

    def test_post_adds_stamps_once_and_counts_them(self, api, account):
        _made, refs = held(account, "c1", limitation={"stamp_expire_days": 30})

        body = ok(api.post(ref_url("c1", refs["c1"]), usage_ref(stamp=4), format="json"), POST_REF)
        again = ok(api.post(ref_url("c1", refs["c1"]), usage_ref(stamp=4), format="json"), POST_REF)

        assert body["statistics"]["stamp"] == again["statistics"]["stamp"] == 4
        assert DiscountUsage.objects.get().source == "ref_add"
        # usage on the same purchase key spends the stamps: current_stamp restarts
        ok(
            api.post(
                ref_url("c1", refs["c1"]),
                {"usage_ref": {"ref": "R-101", "ref_type": "manual", "usage": 1}},
                format="json",
            ),
            POST_REF,
        )
        statistics = ok(api.get(ref_url("c1", refs["c1"])), GET_REF)["statistics"]
        assert (statistics["stamp"], statistics["usage"]) == (4, 1)

    @pytest.mark.parametrize(
        "body, path",
        [
            ({}, "usage_ref"),
            ({"usage_ref": {"ref": "x"}}, "usage_ref"),
            (usage_ref(usage=-1), "usage_ref.usage"),
            (usage_ref(amount=10**13), "usage_ref.amount"),
            (usage_ref(), "usage_ref"),  # adds nothing
            ({"usage_ref": {"ref": " x", "ref_type": "receipt_add", "usage": 1}}, "usage_ref.ref"),
            ({"usage_ref": {"ref": "x", "ref_type": "no spaces", "usage": 1}}, "usage_ref.ref_type"),
        ],
    )
    def test_an_invalid_update_is_400(self, api, account, body, path):
        _made, refs = held(account, "c1")

        response = api.post(ref_url("c1", refs["c1"]), body, format="json")

        assert response.status_code == 400, response.content
        assert_response_matches("discounts", POST_REF, response)
        assert any(e["path"].startswith(path) for e in response.json()["error"]["errors"])
        assert not DiscountUsage.objects.exists()

    def test_delete_takes_it_back_once(self, api, account):
        made, refs = held(account, "c1", reward={"type": "discount_debit", "value": 5000})
        claim(api, made, refs["c1"], "a", amount=1200)

        body = ok(api.delete(ref_url("c1", refs["c1"])), DELETE_REF)

        assert body["debit_balance"] == body["statistics"]["debit_balance"] == 3800
        assert DiscountRef.objects.get(pk=refs["c1"].pk).deleted_at is not None
        for response in (
            api.delete(ref_url("c1", refs["c1"])),
            api.get(ref_url("c1", refs["c1"])),
            api.post(ref_url("c1", refs["c1"]), usage_ref(usage=1), format="json"),
        ):
            assert response.status_code == 400
            assert response.json()["error"]["message"] == "Discount ref already deleted."

    def test_a_star_ref_is_not_one_customers_to_take(self, api, account):
        _made, refs = held(account, "*")
        assert api.delete(ref_url("c1", refs["*"])).status_code == 404
        assert DiscountRef.objects.get(pk=refs["*"].pk).deleted_at is None


@pytest.mark.django_db
class TestUsages:
    def test_one_usage_per_ref_and_customer_with_its_usage_refs(self, api, account):
        made, refs = held(account, "c1", "*")
        claim(api, made, refs["c1"], "tx-1", amount=100)
        released = claim(api, made, refs["c1"], "tx-2", amount=999)
        api.delete(f"{CLAIMS}/{released['id']}")
        claim(api, made, refs["*"], "tx-3", customer="c2", amount=200)
        api.post(ref_url("c1", refs["c1"]), usage_ref(stamp=2), format="json")

        usages = ok(api.get(f"{BASE}/rules/{made.id}/usages?limit=1000"), USAGES)

        by_customer = {u["customer_id"]: u for u in usages}
        assert set(by_customer) == {"c1", "c2"}
        mine = by_customer["c1"]
        assert (mine["ref_id"], mine["discount_id"]) == (str(refs["c1"].id), str(made.id))
        assert [(r["ref_type"], r["ref"], r["amount"], r["stamp"]) for r in mine["usage_refs"]] == [
            ("claim", "tx-1", 100, 0),
            ("receipt_add", "R-100", 0, 2),
        ]
        assert mine["usage_refs"][0]["created_by"]
        # the stamps came after the last rewarded purchase: they are current
        assert (mine["statistics"]["amount"], mine["statistics"]["current_stamp"]) == (100, 2)
        assert by_customer["c2"]["ref_id"] == str(refs["*"].id)

    def test_pages_follow_the_last_id(self, api, account, django_assert_max_num_queries):
        made, refs = held(account, *[f"c{n}" for n in range(5)])
        for n in range(5):
            claim(api, made, refs[f"c{n}"], f"tx-{n}", customer=f"c{n}")

        with django_assert_max_num_queries(8):
            first = ok(api.get(f"{BASE}/rules/{made.id}/usages?limit=3"), USAGES)
        rest = ok(api.get(f"{BASE}/rules/{made.id}/usages?limit=3&starting_after={first[-1]['id']}"), USAGES)

        assert len(first) == 3 and len(rest) == 2
        assert {u["customer_id"] for u in first + rest} == {f"c{n}" for n in range(5)}

    @pytest.mark.parametrize("query", ["limit=0", "limit=1001", "starting_after=garbage!"])
    def test_bad_paging_is_400(self, api, account, query):
        made, _ = held(account, "c1")
        response = api.get(f"{BASE}/rules/{made.id}/usages?{query}")
        assert response.status_code == 400
        assert_response_matches("discounts", USAGES, response)


@pytest.mark.django_db
class TestTenancyAndScopes:
    def test_another_accounts_refs_and_rules_are_404(self, api_for, account, other_account):
        made, refs = held(account, "c1")
        theirs = api_for(other_account)
        base = "/v1/accounts/T00000099/discounts"
        url = f"{base}/customers/c1/refs/{refs['c1'].id}"

        assert theirs.get(url).status_code == 404
        assert theirs.post(url, usage_ref(usage=1), format="json").status_code == 404
        assert theirs.delete(url).status_code == 404
        assert theirs.get(f"{base}/rules/{made.id}/usages").status_code == 404
        assert DiscountRef.objects.get(pk=refs["c1"].pk).deleted_at is None
        assert not DiscountUsage.objects.exists()

    @pytest.mark.parametrize(
        "scopes, method, allowed",
        [
            (["read:discounts"], "get", True),
            (["read:discounts"], "post", False),
            (["read:discounts"], "delete", False),
            (["write:discounts"], "get", False),
            (["write:discounts"], "post", True),
            (["user:discounts"], "get", False),
            (["read:receipts"], "usages", False),
            (["read:discounts"], "usages", True),
        ],
    )
    def test_scopes(self, api_for, account, scopes, method, allowed):
        made, refs = held(account, "c1")
        client = api_for(account, scopes)
        url = ref_url("c1", refs["c1"])
        response = {
            "get": lambda: client.get(url),
            "post": lambda: client.post(url, usage_ref(usage=1), format="json"),
            "delete": lambda: client.delete(url),
            "usages": lambda: client.get(f"{BASE}/rules/{made.id}/usages"),
        }[method]()
        assert response.status_code == (200 if allowed else 403), response.content
