"""`POST …/discounts/available_for_receipt` over HTTP: candidates, the answer's shape (checked against the spec),
`?explain=true`, bad input, tenancy, and that nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from discounts import services
from discounts.models import DiscountRef, DiscountUsage
from tests.discounts.factories import ACTOR, discount, give, item_discount, rule
from tests.spec import assert_response_matches

URL = "/v1/accounts/T00000001/discounts/available_for_receipt"
OPERATION = "aid_discounts_available_for_receipt_post"
NOW = datetime.now(UTC)


def receipt(customer_id: str | None = "c1", **overrides) -> dict:
    body = {
        "store": {"id": "S1", "mcc": "5814"},
        "receipt_id": "714118",
        "purchase_at": NOW.isoformat(),
        "currency": "NOK",
        "gross_amount": 30000,
        "items": [
            {"id": "sku-1", "line_id": 1, "quantity": 2, "gross_amount": 20000, "eligible_for_discount": True,
             "groups": [{"id": "chairs"}]},
            {"id": "sku-2", "line_id": 2, "quantity": 1, "gross_amount": 10000, "eligible_for_discount": True},
        ],
    }  # fmt: skip
    if customer_id:
        body["customer_id"] = customer_id
    return body | overrides


def available(api, body: dict, *, explain: bool = False) -> dict:
    response = api.post(URL + ("?explain=true" if explain else ""), body, format="json")
    assert response.status_code == 200, response.content
    assert_response_matches("discounts", OPERATION, response)
    return response.json()


def lines(answer: dict) -> dict[int, list[dict]]:
    return {item["line_id"]: item.get("discount_lines", []) for item in answer["items"]}


@pytest.mark.django_db
class TestAvailable:
    def test_a_customers_rule_discounts_the_receipt(self, api, account):
        ten = rule(account, discount(name="10 %", reward={"type": "discount_percent", "value": 10}))
        give(account, ten, "c1")
        answer = available(api, receipt())
        assert answer["is_changed"] is True
        (found,) = answer["discounts"]
        (ref,) = found["refs"]
        assert found["id"] == str(ten.id) and found["name"] == "10 %"
        assert ref["id"] == str(DiscountRef.objects.get(rule=ten).id)
        assert (ref["amount"], ref["usage"], ref["bonus"]) == (3000, 1, 0)
        assert ref["items"] == [{"line_id": 1, "amount": 2000}, {"line_id": 2, "amount": 1000}]
        assert ref["statistics"] == {"amount": 3000, "bonus": 0, "stamp": 0, "usage": 1}
        assert [line["amount"] for line in lines(answer)[1]] == [2000]
        assert lines(answer)[1][0]["discount_id"] == str(ten.id) and lines(answer)[1][0]["percentage"] == 10
        assert all(item["is_changed"] for item in answer["items"])

    def test_the_answer_is_the_receipt_with_nothing_lost(self, api, account):
        sent = receipt(comment="Kunden ønsker mer for info", extra_info=[{"key": "k", "value": "v"}])
        answer = available(api, sent)
        assert answer["comment"] == sent["comment"] and answer["extra_info"] == sent["extra_info"]
        assert answer["discounts"] == [] and answer["is_changed"] is False

    def test_shared_refs_follow_the_customer_or_its_absence(self, api, account):
        everyone, anonymous, someone = (rule(account, name=n) for n in ("everyone", "anonymous", "someone"))
        give(account, everyone, "*")
        give(account, anonymous, "/")
        give(account, someone, "c2")
        assert [d["name"] for d in available(api, receipt("c1"))["discounts"]] == ["everyone"]
        assert [d["name"] for d in available(api, receipt(None))["discounts"]] == ["anonymous"]

    def test_no_taken_back_deleted_inactive_or_expired_rule_is_a_candidate(self, api, account):
        taken, deleted, inactive = rule(account, name="taken"), rule(account, name="deleted"), rule(account)
        expired = rule(
            account,
            discount(name="expired", requirement={"purchase_from": "2020-01-01T00:00:00Z",
                                                  "purchase_to": "2021-01-01T00:00:00Z"}),
        )  # fmt: skip
        dynamic = rule(account, discount(name="dynamic", limitation={"dynamic_purchase_to_days": 2}))
        for made in (taken, deleted, inactive, expired, dynamic):
            give(account, made, "c1")
        services.rule_customers_take(account=account, rule=taken, customer_ids=["c1"], actor=ACTOR)
        services.rule_delete(account=account, rule=deleted, actor=ACTOR)
        inactive.active = False
        inactive.save(update_fields=["active"])
        DiscountRef.objects.filter(rule=dynamic).update(created_at=NOW - timedelta(days=3))
        answer = available(api, receipt(), explain=True)
        assert answer["discounts"] == [] and answer["explain"] == []

    def test_a_receipt_with_a_token_and_no_store_is_anonymous(self, api, account):
        anonymous = rule(account, name="anonymous")
        give(account, anonymous, "/")
        body = receipt(None, customer={"token": {"type": "VIPPS", "value": "5345346544ffea22"}})
        assert [d["name"] for d in available(api, body)["discounts"]] == ["anonymous"]

    def test_explain_names_the_failed_condition(self, api, account):
        chairs = rule(account, item_discount({"group_id": "chairs"}, name="chairs"))
        tables = rule(account, item_discount({"group_id": "tables"}, name="tables"))
        big = rule(account, discount(name="big", requirement={**discount()["requirement"], "gross_amount": 99999}))
        for made in (chairs, tables, big):
            give(account, made, "c1")
        answer = available(api, receipt(), explain=True)
        verdicts = {entry["name"]: (entry["status"], entry["condition"]) for entry in answer["explain"]}
        assert verdicts == {
            "chairs": ("applied", None),
            "tables": ("not_applicable", "requirement.item.items"),
            "big": ("not_applicable", "requirement.gross_amount"),
        }
        assert "explain" not in available(api, receipt())

    def test_a_used_up_ref_gives_nothing(self, api, account):
        once = rule(account, discount(name="once", limitation={"discount_repeat_usage": 1}))
        give(account, once, "c1")
        ref = DiscountRef.objects.get(rule=once)
        DiscountUsage.objects.create(
            account=account, rule=once, ref=ref, customer_id="c1", source="claim", source_key="k",
            purchase_key="tx-1", usage=1, amount=100, at=NOW - timedelta(days=1),
        )  # fmt: skip
        answer = available(api, receipt(), explain=True)
        assert answer["discounts"] == []
        assert answer["explain"][0]["condition"] == "limitation.discount_repeat_usage"

    def test_asking_writes_nothing_and_costs_a_fixed_number_of_queries(
        self, api, account, django_assert_max_num_queries
    ):
        for n in range(12):
            give(account, rule(account, name=f"r{n}"), "c1" if n % 2 else "*")
        # the token's client and the account through Django; the candidates with their usage are one statement
        # on the raw psycopg cursor, which Django's query capture does not see
        with django_assert_max_num_queries(3):
            answer = available(api, receipt(), explain=True)
        assert len(answer["explain"]) == 12
        assert not DiscountUsage.objects.exists()

    def test_sending_the_answer_back_gives_the_same_answer(self, api, account):
        give(account, rule(account, discount(name="10 %", reward={"type": "discount_percent", "value": 10})), "c1")
        first = available(api, receipt())
        again = available(api, first)
        assert again["discounts"] == first["discounts"] and again["items"] == first["items"]


@pytest.mark.django_db
class TestRefused:
    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({"store": {"id": "S1"}, "receipt_id": "1"}, "purchase_at"),
            (receipt(purchase_at="yesterday"), "purchase_at"),
            (receipt(items=[{"line_id": 1}, {"line_id": 1}]), "items[1].line_id"),
            (receipt(customer_id=" c1"), "customer_id"),
            (receipt(items=[{"gross_amount": "100"}]), "items[0].gross_amount"),
        ],
    )
    def test_bad_receipts_are_400_naming_the_field(self, api, account, body, path):
        response = api.post(URL, body, format="json")
        assert response.status_code == 400, response.content
        assert_response_matches("discounts", OPERATION, response)
        assert path in [error["path"] for error in response.json()["error"]["errors"]]

    def test_a_bad_explain_flag_is_400(self, api, account):
        response = api.post(URL + "?explain=maybe", receipt(), format="json")
        assert response.status_code == 400
        assert response.json()["error"]["errors"][0]["path"] == "explain"

    def test_too_many_items_are_refused(self, api, account):
        items = [{"id": "x", "gross_amount": 1} for _ in range(1001)]
        response = api.post(URL, receipt(items=items), format="json")
        assert response.status_code == 400

    def test_another_accounts_refs_are_never_candidates(self, api, account, other_account):
        give(other_account, rule(other_account, name="theirs"), "c1", "*")
        assert available(api, receipt(), explain=True)["explain"] == []

    def test_the_point_of_sale_scope_alone_is_enough_and_read_is_not(self, api_for, account):
        give(account, rule(account, name="mine"), "c1")
        pos = api_for(account, ["write:discounts:/available_for_receipt"])
        assert [d["name"] for d in available(pos, receipt())["discounts"]] == ["mine"]
        reader = api_for(account, ["read:discounts"])
        assert reader.post(URL, receipt(), format="json").status_code == 403
