"""The other receipts operations: reads, cursor paging, change_customer_id, PUT, receipt tokens, concurrency."""

import json
import threading
from pathlib import Path

import jwt
import pytest
from django.db import connection

from receipts.models import Customer, ItemFact, Receipt
from tests.receipts.factories import receipt
from tests.spec import assert_response_matches

BASE = "/v1/accounts/T00000001/receipts"
EXAMPLE = json.loads((Path(__file__).parent / "data" / "dintero_example_receipt.json").read_text())
ENTITY = {"id", "created_at", "created_by", "updated_at", "deleted_by", "deleted_at"}


def post(api, *docs, **query):
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    response = api.post(BASE + suffix, list(docs), format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
class TestLossless:
    def test_the_specs_complete_example_round_trips(self, api):
        stored = post(api, EXAMPLE)["receipts"][0]

        response = api.get(f"{BASE}/customers/{EXAMPLE['customer_id']}/{EXAMPLE['receipt_id']}")

        assert response.status_code == 200
        body = response.json()
        assert {k: v for k, v in body.items() if k not in ENTITY} == {
            k: v for k, v in EXAMPLE.items() if k not in ENTITY
        }
        assert body["id"] == stored["id"] != EXAMPLE["id"]
        assert_response_matches("receipts", "aid_receipts_customers_cid_rid_get", response)

    def test_unknown_fields_survive(self, api):
        doc = receipt(customer_id="c1", receipt_id="X1")
        doc["pos_vendor_field"] = {"nested": [1, 2.5, None, "ø"]}
        doc["items"][0]["unknown_line_field"] = True
        post(api, doc)

        body = api.get(f"{BASE}/customers/c1/X1").json()

        assert body["pos_vendor_field"] == {"nested": [1, 2.5, None, "ø"]}
        assert body["items"][0]["unknown_line_field"] is True


@pytest.mark.django_db
class TestCustomerReceipts:
    def test_newest_first_with_a_cursor_only_when_more_remain(self, api):
        for day in range(1, 6):
            post(api, receipt(customer_id="c1", receipt_id=f"D{day}", purchase_at=f"2024-05-0{day}T10:00:00Z"))

        first = api.get(f"{BASE}/customers/c1?limit=2")
        assert_response_matches("receipts", "aid_receipts_customers_cid_get", first)
        page1 = first.json()
        assert [r["purchase_at"] for r in page1["receipts"]] == ["2024-05-05T10:00:00Z", "2024-05-04T10:00:00Z"]
        assert set(page1["receipts"][0]) >= {"id", "store", "items", "gross_amount", "net_amount", "currency"}

        page2 = api.get(f"{BASE}/customers/c1?limit=2&starting_after={page1['starting_after']}").json()
        page3 = api.get(f"{BASE}/customers/c1?limit=2&starting_after={page2['starting_after']}").json()
        assert [r["purchase_at"][:10] for r in page2["receipts"] + page3["receipts"]] == [
            "2024-05-03",
            "2024-05-02",
            "2024-05-01",
        ]
        assert "starting_after" not in page3

    def test_the_cursor_stays_correct_while_receipts_arrive(self, api):
        for minute in range(6):
            post(api, receipt(customer_id="c1", purchase_at=f"2024-05-01T10:0{minute}:00Z"))
        page1 = api.get(f"{BASE}/customers/c1?limit=3").json()

        # new receipts arrive: newer ones, and one at exactly the cursor's timestamp
        post(api, receipt(customer_id="c1", purchase_at="2024-06-01T10:00:00Z"))
        post(api, receipt(customer_id="c1", purchase_at=page1["receipts"][-1]["purchase_at"]))

        page2 = api.get(f"{BASE}/customers/c1?limit=10&starting_after={page1['starting_after']}").json()
        seen = [r["id"] for r in page1["receipts"] + page2["receipts"]]
        assert len(seen) == len(set(seen))
        assert [r["purchase_at"][11:16] for r in page2["receipts"]] == ["10:02", "10:01", "10:00"]

    def test_unknown_customer_has_no_receipts(self, api):
        assert api.get(f"{BASE}/customers/nobody").json() == {"receipts": []}

    @pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "starting_after=not-a-receipt"])
    def test_bad_paging_is_400(self, api, query):
        post(api, receipt(customer_id="c1"))
        response = api.get(f"{BASE}/customers/c1?{query}")
        assert response.status_code == 400
        assert response.json()["error"]["message"]

    def test_a_receipt_of_another_customer_is_404(self, api):
        post(api, receipt(customer_id="c1", receipt_id="A"), receipt(customer_id="c2", receipt_id="B"))
        response = api.get(f"{BASE}/customers/c1/B")
        assert response.status_code == 404
        assert_response_matches("receipts", "aid_receipts_customers_cid_rid_get", response)


@pytest.mark.django_db
class TestChangeCustomerId:
    def test_moves_the_receipt_with_an_audit_entry_and_updates_both_profiles(self, api, account):
        post(
            api, receipt(customer_id="old", receipt_id="M1", net_amount=500), receipt(customer_id="old", net_amount=100)
        )

        response = api.post(f"{BASE}/customers/old/M1/change_customer_id", {"customer_id": "new"}, format="json")

        assert response.status_code == 200
        assert_response_matches("receipts", "aid_receipts_customers_cid_rid_change_customer_id_post", response)
        body = response.json()
        assert body["customer_id"] == "new"
        (entry,) = [e for e in body["extra_info"] if e["key"].startswith("dintero.receipts.change_customer_id.")]
        audit = json.loads(entry["value"])
        assert (audit["old"], audit["new"]) == ("old", "new")
        assert audit["created_by"] and audit["created_at"].endswith("Z")
        assert len(entry["key"].split(".")) == 5

        assert api.get(f"{BASE}/customers/old/M1").status_code == 404
        assert [r["id"] for r in api.get(f"{BASE}/customers/old").json()["receipts"]] != [body["id"]]
        assert api.get(f"{BASE}/customers/new/M1").status_code == 200
        old = Customer.objects.get(account=account, customer_id="old")
        new = Customer.objects.get(account=account, customer_id="new")
        assert (old.purchases, old.net_total, new.purchases, new.net_total) == (1, 100, 1, 500)
        assert set(
            ItemFact.objects.filter(receipt_id=Receipt.objects.get(receipt_id="M1").pk).values_list(
                "customer", flat=True
            )
        ) == {new.pk}

    @pytest.mark.parametrize("body", [{}, {"customer_id": ""}, {"customer_id": " x"}, {"customer_id": "old"}])
    def test_invalid_targets_are_400(self, api, body):
        post(api, receipt(customer_id="old", receipt_id="M1"))
        response = api.post(f"{BASE}/customers/old/M1/change_customer_id", body, format="json")
        assert response.status_code == 400
        assert_response_matches("receipts", "aid_receipts_customers_cid_rid_change_customer_id_post", response)


@pytest.mark.django_db
class TestSearch:
    def test_finds_the_receipt_id_in_every_store(self, api):
        post(
            api,
            receipt(receipt_id="S1", store_id="a"),
            receipt(receipt_id="S1", store_id="b"),
            receipt(receipt_id="S2"),
        )
        response = api.get(f"{BASE}/search?receipt_id=S1")
        assert_response_matches("receipts", "aid_receipts_rid_get", response)
        assert sorted(r["store"]["id"] for r in response.json()["receipts"]) == ["a", "b"]

    def test_receipt_id_is_required(self, api):
        assert api.get(f"{BASE}/search").status_code == 400

    def test_every_store_is_returned_past_a_hundred(self, api):
        post(api, *[receipt(receipt_id="P1", store_id=f"s{n:03d}") for n in range(150)])

        response = api.get(f"{BASE}/search?receipt_id=P1")

        assert response.status_code == 200
        assert_response_matches("receipts", "aid_receipts_rid_get", response)
        assert sorted(r["store"]["id"] for r in response.json()["receipts"]) == [f"s{n:03d}" for n in range(150)]
        assert "starting_after" not in response.json()

    def test_pages_with_limit_and_starting_after(self, api):
        post(api, *[receipt(receipt_id="P1", store_id=f"s{n:03d}") for n in range(150)], receipt(receipt_id="P2"))

        first = api.get(f"{BASE}/search?receipt_id=P1&limit=100").json()
        second = api.get(f"{BASE}/search?receipt_id=P1&limit=100&starting_after={first['starting_after']}").json()

        assert first["starting_after"] == first["receipts"][-1]["id"]
        assert "starting_after" not in second
        stores = [r["store"]["id"] for r in first["receipts"] + second["receipts"]]
        assert stores == [f"s{n:03d}" for n in range(150)]

    @pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "starting_after=nope"])
    def test_bad_paging_is_400(self, api, query):
        post(api, receipt(receipt_id="P1"))
        response = api.get(f"{BASE}/search?receipt_id=P1&{query}")
        assert response.status_code == 400
        assert "error" in response.json()


@pytest.mark.django_db
class TestUpdateAnonymous:
    def test_an_anonymous_receipt_gets_a_customer_and_discounts(self, api, account):
        post(api, receipt(customer_id=None, receipt_id="A1", net_amount=700))
        discount = {
            "requirement": {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2025-01-01T00:00:00Z"},
            "reward": {"type": "discount_amount", "value": 1000},
        }

        response = api.put(f"{BASE}/all/A1", {"customer_id": "c9", "discounts": [discount]}, format="json")

        assert response.status_code == 200, response.content
        assert_response_matches("receipts", "aid_receipts_update_put", response)
        assert response.json()["customer_id"] == "c9"
        assert response.json()["discounts"] == [discount]
        assert Customer.objects.get(account=account, customer_id="c9").net_total == 700
        assert ItemFact.objects.filter(customer__customer_id="c9").count() == 3

    def test_a_receipt_with_a_customer_is_refused_naming_the_rule(self, api):
        post(api, receipt(customer_id="c1", receipt_id="A1"))
        response = api.put(f"{BASE}/all/A1", {"customer_id": "c2"}, format="json")
        assert response.status_code == 400
        assert "only be set on anonymous receipts" in response.json()["error"]["message"]

    def test_discounts_only_when_it_has_none(self, api):
        discount = {
            "requirement": {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2025-01-01T00:00:00Z"},
            "reward": {"type": "discount_amount", "value": 1000},
        }
        post(api, receipt(customer_id=None, receipt_id="A1", discounts=[discount]))
        response = api.put(f"{BASE}/all/A1", {"customer_id": "c2", "discounts": [discount]}, format="json")
        assert response.status_code == 400
        assert "already has discounts" in response.json()["error"]["message"]

    def test_ambiguous_receipt_ids_need_a_store_id(self, api):
        post(
            api,
            receipt(customer_id=None, receipt_id="A1", store_id="s1"),
            receipt(customer_id=None, receipt_id="A1", store_id="s2"),
        )
        ambiguous = api.put(f"{BASE}/all/A1", {"customer_id": "c2"}, format="json")
        assert ambiguous.status_code == 400
        assert "several stores (s1, s2)" in ambiguous.json()["error"]["message"]
        picked = api.put(f"{BASE}/all/A1?store_id=s2", {"customer_id": "c2"}, format="json")
        assert picked.status_code == 200 and picked.json()["store"]["id"] == "s2"

    @pytest.mark.parametrize(
        "body", [{}, {"customer_id": 5}, {"customer_id": "x "}, {"customer_id": "c", "discounts": [{"reward": {}}]}]
    )
    def test_bad_bodies(self, api, body):
        post(api, receipt(customer_id=None, receipt_id="A1"))
        assert api.put(f"{BASE}/all/A1", body, format="json").status_code == 400
        assert Receipt.objects.get(receipt_id="A1").customer_id is None

    def test_unknown_receipt_is_404(self, api):
        response = api.put(f"{BASE}/all/nope", {"customer_id": "c"}, format="json")
        assert response.status_code == 404
        assert_response_matches("receipts", "aid_receipts_update_put", response)


@pytest.mark.django_db
class TestReceiptTokens:
    def token_of(self, body):
        return {e["key"]: e["value"] for e in body["extra_info"]}

    def test_token_expire_days_adds_a_token_that_gets_and_claims_once(self, api, account):
        stored = post(api, receipt(customer_id=None, receipt_id="T1"), token_expire_days=7)["receipts"][0]
        document = Receipt.objects.get(uuid=stored["id"]).document
        info = self.token_of(document)
        token = info["dintero.receipt.token.value"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["account"] == "T00000001" and claims["receipt_id"] == "T1" and claims["sub"] == stored["id"]
        assert info["dintero.receipt.token.url"] == f"http://testserver{BASE}/receipt-token?token={token}"
        assert info["dintero.receipt.token.expires_at"].endswith("Z")

        got = api.get(f"{BASE}/receipt-token?token={token}")
        assert got.status_code == 200 and got.json()["receipt_id"] == "T1"
        assert_response_matches("receipts", "aid_receipts_receipt_token_get", got)

        claimed = api.post(f"{BASE}/receipt-token?token={token}", {"customer_id": "me"}, format="json")
        assert claimed.status_code == 200 and claimed.json()["customer_id"] == "me"
        assert_response_matches("receipts", "aid_receipts_receipt_token_post", claimed)
        assert Customer.objects.get(account=account, customer_id="me").purchases == 1

        again = api.post(f"{BASE}/receipt-token?token={token}", {"customer_id": "thief"}, format="json")
        assert again.status_code == 400
        assert "already been used" in again.json()["error"]["message"]
        assert api.get(f"{BASE}/receipt-token?token={token}").status_code == 400

    def test_expired_forged_and_foreign_tokens_are_400(self, api):
        from datetime import UTC, datetime, timedelta

        from loyalty.accounts import tokens
        from receipts.services.tokens import receipt_token_audience, receipt_token_issue

        stored = post(api, receipt(customer_id=None))["receipts"][0]
        claims = {
            "iss": "http://testserver",
            "aud": receipt_token_audience("T00000001"),
            "sub": stored["id"],
            "typ": "receipt",
            "account": "T00000001",
            "receipt_id": Receipt.objects.get().receipt_id,
            "store_id": "store-1",
        }
        valid = tokens.encode(claims, ttl=60)
        expired = tokens.encode(claims, ttl=-60)
        foreign = receipt_token_issue(
            aid="T00000099",
            receipt_uuid=stored["id"],
            receipt_id="x",
            store_id="store-1",
            customer_id=None,
            expires_at=datetime.now(UTC) + timedelta(days=1),
        )
        assert api.get(f"{BASE}/receipt-token?token={valid}").status_code == 200
        for token in (expired, foreign, valid[:-3] + "abc", "garbage"):
            response = api.get(f"{BASE}/receipt-token?token={token}")
            assert response.status_code == 400, token
            assert_response_matches("receipts", "aid_receipts_receipt_token_get", response)
        assert api.get(f"{BASE}/receipt-token").status_code == 400


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_identical_posts_store_one_receipt(api_for, account):
    docs = [receipt(customer_id="c1", receipt_id=f"C{i}") for i in range(50)]
    results = []
    barrier = threading.Barrier(2)

    def worker():
        client = api_for(account)
        barrier.wait()
        results.append(client.post(BASE, docs, format="json").json())
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r["duplicates"] for r in results) == [0, 50]
    assert Receipt.objects.count() == 50
    assert Customer.objects.get(customer_id="c1").purchases == 50
    assert ItemFact.objects.count() == 150
