"""Claims over the API: the spec's answers, idempotency by `ref`, usage limits, release, tenancy and scopes."""

from __future__ import annotations

import pytest

from discounts.models import DiscountClaim, DiscountRef, DiscountUsage
from tests.discounts.factories import discount, give, rule
from tests.spec import assert_response_matches

BASE = "/v1/accounts/T00000001/discounts"
CLAIMS = f"{BASE}/available_for_receipt/claims"
PURCHASE_AT = "2026-03-01T12:00:00Z"


def limited(account, customer="c1", **limitation):
    made = rule(account, discount(limitation=limitation) if limitation else discount())
    give(account, made, customer)
    return made, DiscountRef.objects.get(rule=made, customer_id=customer)


def claim_body(made, ref, *, ref_key: str | None = "tx-1", customer="c1", amount=10000, usage=1, **extra):
    body = {
        "purchase_at": PURCHASE_AT,
        "customer_id": customer,
        "type": "pos",
        "discounts": [{"id": str(made.id), "refs": [{"id": str(ref.id), "amount": amount, "usage": usage}]}],
        **extra,
    }
    if ref_key is not None:
        body["ref"] = ref_key
    return body


def post(api, body):
    return api.post(CLAIMS, body, format="json")


def ok(response, operation="aid_discounts_available_for_receipt_post_claim"):
    assert response.status_code == 200, response.content
    assert_response_matches("discounts", operation, response)
    return response.json()


def error(response, code: str, status: int = 400):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def live_usage(ref) -> list[tuple[str, int, int]]:
    return list(
        DiscountUsage.objects.filter(ref=ref, released_at__isnull=True).values_list("source", "usage", "amount")
    )


@pytest.mark.django_db
class TestClaim:
    def test_a_claim_records_usage_and_reads_back(self, api, account):
        made, ref = limited(account)

        claimed = ok(post(api, claim_body(made, ref)))

        assert claimed["ref"] == "tx-1" and claimed["customer_id"] == "c1" and claimed["type"] == "pos"
        assert claimed["discounts"] == [
            {"id": str(made.id), "refs": [{"id": str(ref.id), "amount": 10000, "usage": 1}]}
        ]
        assert "deleted_at" not in claimed
        assert live_usage(ref) == [("claim", 1, 10000)]
        fetched = ok(api.get(f"{CLAIMS}/{claimed['id']}"), "aid_discounts_available_for_receipt_get_claim")
        assert fetched == claimed

    def test_the_same_claim_again_answers_the_stored_one(self, api, account):
        made, ref = limited(account, discount_repeat_usage=1)
        first = ok(post(api, claim_body(made, ref)))

        again = ok(post(api, claim_body(made, ref, purchase_at="2026-03-01T13:00:00+01:00")))

        assert again == first
        assert DiscountClaim.objects.count() == 1
        assert live_usage(ref) == [("claim", 1, 10000)]

    def test_the_same_ref_with_other_content_is_a_conflict(self, api, account):
        made, ref = limited(account)
        ok(post(api, claim_body(made, ref)))

        problem = error(post(api, claim_body(made, ref, amount=5000)), "claim_ref_conflict")

        assert problem["errors"][0]["path"] == "ref"
        assert live_usage(ref) == [("claim", 1, 10000)]

    def test_repeat_usage_is_a_limit_on_purchases(self, api, account):
        made, ref = limited(account, discount_repeat_usage=2)
        ok(post(api, claim_body(made, ref, ref_key="tx-1")))
        ok(post(api, claim_body(made, ref, ref_key="tx-2")))

        problem = error(post(api, claim_body(made, ref, ref_key="tx-3")), "discount_usage_limit")

        assert problem["errors"] == [
            {"path": "discounts[0].refs[0].id", "message": "is used up (discount_repeat_usage: 2 purchases)"}
        ]
        assert not DiscountClaim.objects.filter(ref="tx-3").exists()
        assert len(live_usage(ref)) == 2

    def test_reward_usage_limits_one_purchase(self, api, account):
        made, ref = limited(account, discount_reward_usage=2)

        problem = error(post(api, claim_body(made, ref, usage=3)), "discount_usage_limit")

        assert problem["errors"][0]["path"] == "discounts[0].refs[0].usage"
        ok(post(api, claim_body(made, ref, usage=2)))

    def test_claims_without_ref_are_separate_purchases(self, api, account):
        made, ref = limited(account, discount_repeat_usage=1)
        ok(post(api, claim_body(made, ref, ref_key=None)))

        error(post(api, claim_body(made, ref, ref_key=None)), "discount_usage_limit")

    def test_a_receipt_of_the_same_purchase_does_not_use_up_the_claim(self, api, account):
        # the receipt of purchase tx-1 was recorded first; its claim is the same purchase
        made, ref = limited(account, discount_repeat_usage=1)
        DiscountUsage.objects.create(
            account=account, rule=made, ref=ref, customer_id="c1", source="receipt_add", source_key="r-uuid",
            purchase_key="tx-1", usage=1, amount=10000, at="2026-03-01T12:00:00Z",
        )  # fmt: skip

        ok(post(api, claim_body(made, ref, ref_key="tx-1")))

        error(post(api, claim_body(made, ref, ref_key="tx-2")), "discount_usage_limit")

    @pytest.mark.parametrize(
        "change, path",
        [
            ({"customer_id": "c2"}, "discounts[0].refs[0].id"),  # not theirs
            ({"customer_id": "*"}, "customer_id"),
            ({"purchase_at": "yesterday"}, "purchase_at"),
            ({"ref": "  "}, "ref"),
            ({"discounts": []}, "discounts"),
        ],
    )
    def test_claims_no_one_could_mean_are_refused(self, api, account, change, path):
        made, ref = limited(account)

        problem = error(post(api, {**claim_body(made, ref), **change}), "validation_error")

        assert path in [e["path"] for e in problem["errors"]]
        assert not DiscountClaim.objects.exists() and not DiscountUsage.objects.exists()

    @pytest.mark.parametrize("usage, amount", [(0, 100), (-1, 100), (1, -5), (1, 10**13)])
    def test_impossible_figures_are_refused(self, api, account, usage, amount):
        made, ref = limited(account)

        problem = error(post(api, claim_body(made, ref, usage=usage, amount=amount)), "validation_error")

        assert problem["errors"][0]["path"].startswith("discounts[0].refs[0].")
        assert not DiscountUsage.objects.exists()

    def test_a_claim_of_more_refs_than_a_purchase_could_use_is_refused(self, api, account):
        made, ref = limited(account)
        body = claim_body(made, ref)
        body["discounts"][0]["refs"] = [
            {"id": f"00000000-0000-7000-8000-{n:012d}", "amount": 1, "usage": 1} for n in range(101)
        ]

        problem = error(post(api, body), "validation_error")

        assert problem["errors"] == [{"path": "discounts", "message": "must name at most 100 refs in all"}]

    def test_schema_errors_name_the_field(self, api, account):
        made, ref = limited(account)
        body = claim_body(made, ref)
        del body["discounts"][0]["refs"][0]["usage"]

        problem = error(post(api, body), "validation_error")

        assert any("usage" in e["message"] or "usage" in e["path"] for e in problem["errors"])

    def test_a_taken_back_ref_and_a_deleted_rule_cannot_be_claimed(self, api, account):
        made, ref = limited(account)
        ref.deleted_at, ref.deleted_by = ref.created_at, "staff"
        ref.save()

        problem = error(post(api, claim_body(made, ref)), "validation_error")

        assert problem["errors"][0]["message"] == "was taken back from the customer"

    def test_a_purchase_without_customer_claims_slash_refs_only(self, api, account):
        anonymous, slash = limited(account, customer="/")
        mine, ref = limited(account, customer="c1")

        claimed = ok(post(api, claim_body(anonymous, slash, ref_key="a", customer="/")))
        refused = error(post(api, claim_body(mine, ref, ref_key="b", customer="/")), "validation_error")

        assert claimed["customer_id"] == "/"
        assert DiscountUsage.objects.get(ref=slash).customer_id is None
        assert refused["errors"][0]["message"] == "is not held by this customer"

    def test_an_inactive_rule_cannot_be_claimed(self, api, account):
        made, ref = limited(account)
        api.put(f"{BASE}/rules/{made.id}", {"active": False}, format="json")

        problem = error(post(api, claim_body(made, ref)), "validation_error")

        assert problem["errors"][0]["message"] == "belongs to a discount rule that is deleted or inactive"

    def test_a_star_ref_is_limited_per_customer(self, api, account):
        made, ref = limited(account, customer="*", discount_repeat_usage=1)
        ok(post(api, claim_body(made, ref, ref_key="a", customer="c1")))

        ok(post(api, claim_body(made, ref, ref_key="b", customer="c2")))
        error(post(api, claim_body(made, ref, ref_key="c", customer="c1")), "discount_usage_limit")


@pytest.mark.django_db
class TestRelease:
    def test_release_frees_the_usage_once(self, api, account):
        made, ref = limited(account, discount_repeat_usage=1)
        claimed = ok(post(api, claim_body(made, ref, ref_key="tx-1")))

        released = ok(api.delete(f"{CLAIMS}/{claimed['id']}"), "aid_discounts_available_for_receipt_delete_claim")

        assert released["deleted_at"] and released["deleted_by"]
        assert live_usage(ref) == []
        again = ok(api.delete(f"{CLAIMS}/{claimed['id']}"), "aid_discounts_available_for_receipt_delete_claim")
        assert again["deleted_at"] == released["deleted_at"]
        assert DiscountUsage.objects.filter(ref=ref, released_at__isnull=False).count() == 1
        # the ref is free for another purchase; the released claim's ref stays taken
        ok(post(api, claim_body(made, ref, ref_key="tx-2")))
        assert ok(post(api, claim_body(made, ref, ref_key="tx-1")))["deleted_at"] == released["deleted_at"]

    def test_unknown_claims_are_404(self, api, account):
        for claim_id in ("not-a-uuid", "0190f1a2-0000-7000-8000-000000000000"):
            assert api.get(f"{CLAIMS}/{claim_id}").status_code == 404
            error(api.delete(f"{CLAIMS}/{claim_id}"), "not_found", 404)


@pytest.mark.django_db
class TestList:
    def test_newest_first_filtered_paged_and_counted(self, api, account):
        made, ref = limited(account)
        other, theirs = limited(account, customer="c2")
        ids = [ok(post(api, claim_body(made, ref, ref_key=f"tx-{n}")))["id"] for n in range(3)]
        ok(post(api, claim_body(other, theirs, ref_key="tx-9", customer="c2")))

        response = api.get(f"{CLAIMS}?customer_id=c1&limit=2&total=true")
        page = ok(response, "aid_discounts_available_for_receipt_get_claims")
        assert [c["id"] for c in page] == ids[::-1][:2]
        assert response["total-count"] == "3"
        rest = ok(
            api.get(f"{CLAIMS}?customer_id=c1&starting_after={ids[1]}"),
            "aid_discounts_available_for_receipt_get_claims",
        )
        assert [c["id"] for c in rest] == [ids[0]]
        by_ref = api.get(f"{CLAIMS}?ref=tx-9&customer_id=c2").json()
        assert [c["ref"] for c in by_ref] == ["tx-9"]
        assert api.get(f"{CLAIMS}?ref=tx-9&customer_id=c1").json() == []

    def test_list_query_count_is_pinned(self, api, account, django_assert_max_num_queries):
        made, ref = limited(account)
        for n in range(5):
            ok(post(api, claim_body(made, ref, ref_key=f"tx-{n}")))
        with django_assert_max_num_queries(8):
            assert len(api.get(f"{CLAIMS}?limit=100&total=true").json()) == 5

    def test_bad_paging_is_400(self, api, account):
        error(api.get(f"{CLAIMS}?limit=0"), "validation_error")
        error(api.get(f"{CLAIMS}?starting_after=nope"), "validation_error")


@pytest.mark.django_db
class TestTenancyAndScopes:
    def test_another_accounts_claims_and_refs_are_not_here(self, api, api_for, account, other_account):
        made, ref = limited(account)
        claimed = ok(post(api, claim_body(made, ref)))
        theirs = api_for(other_account)
        their_claims = "/v1/accounts/T00000099/discounts/available_for_receipt/claims"

        assert theirs.get(f"{their_claims}/{claimed['id']}").status_code == 404
        assert theirs.delete(f"{their_claims}/{claimed['id']}").status_code == 404
        assert theirs.get(their_claims).json() == []
        refused = theirs.post(their_claims, claim_body(made, ref, ref_key="x"), format="json")
        error(refused, "validation_error")
        assert DiscountClaim.objects.get().deleted_at is None and len(live_usage(ref)) == 1

    def test_this_accounts_path_with_another_accounts_token_is_refused(self, api_for, account, other_account):
        response = api_for(other_account).get(CLAIMS)
        assert response.status_code == 403

    @pytest.mark.parametrize(
        "scopes, method, status",
        [
            (["read:discounts"], "post", 403),
            (["read:discounts"], "get", 200),
            (["write:discounts"], "post", 200),
            (["write:discounts"], "get", 403),
            (["read:receipts"], "get", 403),
            (["write:discounts:/available_for_receipt"], "post", 200),  # a point of sale's own scopes
            (["write:discounts:/available_for_receipt"], "get", 403),
            (["read:discounts:/available_for_receipt"], "get", 200),
        ],
    )
    def test_scopes(self, api_for, account, scopes, method, status):
        made, ref = limited(account)
        client = api_for(account, scopes)
        response = client.post(CLAIMS, claim_body(made, ref), format="json") if method == "post" else client.get(CLAIMS)
        assert response.status_code == status, response.content
        if status == 403:
            assert response.json()["error"]["code"] == "forbidden"
