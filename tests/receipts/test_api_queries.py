"""Query counts of the receipts list APIs: each is a fixed number of queries, whatever the page holds, and API
writes leave their audit events."""

import pytest

from tests.helpers import audit_events
from tests.receipts.factories import receipt

BASE = "/v1/accounts/T00000001/receipts"
# One for authentication (the API client is active, read with its account), then the read: the customer and one
# page of receipts; the receipts with that POS id.
QUERIES = {"customer_receipts": 3, "search": 2}


def post(api, *docs):
    response = api.post(BASE, list(docs), format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
class TestQueryCounts:
    @pytest.mark.parametrize("receipts", [1, 12])
    def test_a_customers_receipts(self, api, django_assert_num_queries, receipts):
        post(api, *[receipt(customer_id="c1", receipt_id=f"R{n}") for n in range(receipts)])
        api.get(f"{BASE}/customers/c1")  # a first request: what it caches is not pinned

        with django_assert_num_queries(QUERIES["customer_receipts"]):
            response = api.get(f"{BASE}/customers/c1?limit=10")

        assert response.status_code == 200 and len(response.json()["receipts"]) == min(receipts, 10)

    def test_a_customers_next_page(self, api, django_assert_num_queries):
        post(api, *[receipt(customer_id="c1", receipt_id=f"R{n}") for n in range(5)])
        cursor = api.get(f"{BASE}/customers/c1?limit=2").json()["starting_after"]

        with django_assert_num_queries(QUERIES["customer_receipts"] + 1):  # + the cursor's anchor
            response = api.get(f"{BASE}/customers/c1?limit=2&starting_after={cursor}")

        assert response.status_code == 200 and len(response.json()["receipts"]) == 2

    @pytest.mark.parametrize("stores", [1, 5])
    def test_search(self, api, django_assert_num_queries, stores):
        post(api, *[receipt(receipt_id="R1", store_id=f"s{n}") for n in range(stores)])
        api.get(f"{BASE}/search?receipt_id=R1")  # a first request: what it caches is not pinned

        with django_assert_num_queries(QUERIES["search"]):
            response = api.get(f"{BASE}/search?receipt_id=R1")

        assert response.status_code == 200 and len(response.json()["receipts"]) == stores

    def test_a_searchs_next_page(self, api, django_assert_num_queries):
        post(api, *[receipt(receipt_id="R1", store_id=f"s{n}") for n in range(5)])
        cursor = api.get(f"{BASE}/search?receipt_id=R1&limit=2").json()["starting_after"]

        with django_assert_num_queries(QUERIES["search"] + 1):  # + the cursor's anchor
            response = api.get(f"{BASE}/search?receipt_id=R1&limit=2&starting_after={cursor}")

        assert response.status_code == 200 and [r["store"]["id"] for r in response.json()["receipts"]] == ["s2", "s3"]


@pytest.mark.django_db
class TestAudit:
    def test_api_writes_are_audited(self, api):
        created = post(api, receipt(customer_id=None, receipt_id="R1"))["receipts"][0]
        assert api.put(f"{BASE}/all/R1", {"customer_id": "c1"}, format="json").status_code == 200
        moved = api.post(f"{BASE}/customers/c1/R1/change_customer_id", {"customer_id": "c2"}, format="json")
        assert moved.status_code == 200

        events = list(audit_events().order_by("id").values_list("action", "object_type", "object_id"))

        # a POST of receipts is recorded by its IngestBatch row, not by an audit event
        assert events == [
            ("dintero.receipts.update", "receipt", created["id"]),
            ("dintero.receipts.change_customer_id", "receipt", created["id"]),
        ]

    def test_a_token_claim_is_audited(self, api):
        response = api.post(f"{BASE}?token_expire_days=1", [receipt(customer_id=None, receipt_id="T1")], format="json")
        stored = api.get(f"{BASE}/search?receipt_id=T1").json()["receipts"][0]
        info = {entry["key"]: entry["value"] for entry in stored["extra_info"]}

        claimed = api.post(
            f"{BASE}/receipt-token?token={info['dintero.receipt.token.value']}", {"customer_id": "me"}, format="json"
        )

        assert response.status_code == 200 and claimed.status_code == 200
        assert list(audit_events().values_list("action", "object_id")) == [
            ("dintero.receipts.receipt_token.claim", stored["id"])
        ]
