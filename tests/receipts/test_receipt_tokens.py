"""A receipt token belongs to one customer and one receipt: it is honoured only while the receipt still has the
customer it was minted for (an anonymous receipt's token only while the receipt has none), and every change of
customer spends the receipt's outstanding tokens."""

import json

import pytest

from loyalty.core.models import AuditEvent
from receipts.models import Receipt
from tests.receipts.factories import receipt
from tests.spec import assert_response_matches

BASE = "/v1/accounts/T00000001/receipts"
CHANGE_ENTRY = "dintero.receipts.change_customer_id."


def token_for(api, doc):
    """Store one receipt with a claim token and return the token."""
    response = api.post(f"{BASE}?token_expire_days=7", [doc], format="json")
    assert response.status_code == 200, response.content
    stored = Receipt.objects.get(uuid=response.json()["receipts"][0]["id"])
    return {e["key"]: e["value"] for e in stored.document["extra_info"]}["dintero.receipt.token.value"]


def get(api, token):
    return api.get(f"{BASE}/receipt-token?token={token}")


def claim(api, token, customer_id):
    return api.post(f"{BASE}/receipt-token?token={token}", {"customer_id": customer_id}, format="json")


def assert_refused(response, operation):
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_token"
    assert_response_matches("receipts", operation, response)


@pytest.mark.django_db
class TestTokenBinding:
    def test_the_previous_owners_token_is_refused_after_change_customer_id(self, api):
        token = token_for(api, receipt(customer_id="alice", receipt_id="R1"))
        assert get(api, token).status_code == 200

        moved = api.post(f"{BASE}/customers/alice/R1/change_customer_id", {"customer_id": "bob"}, format="json")
        assert moved.status_code == 200

        assert_refused(get(api, token), "aid_receipts_receipt_token_get")
        assert_refused(claim(api, token, "mallory"), "aid_receipts_receipt_token_post")
        assert Receipt.objects.get(receipt_id="R1").customer_id == "bob"

    def test_the_token_stays_spent_when_the_receipt_moves_back(self, api):
        token = token_for(api, receipt(customer_id="alice", receipt_id="R1"))
        for source, target in (("alice", "bob"), ("bob", "alice")):
            moved = api.post(f"{BASE}/customers/{source}/R1/change_customer_id", {"customer_id": target}, format="json")
            assert moved.status_code == 200

        assert_refused(get(api, token), "aid_receipts_receipt_token_get")
        assert_refused(claim(api, token, "mallory"), "aid_receipts_receipt_token_post")

    def test_an_anonymous_receipts_token_is_refused_after_a_put_gives_it_a_customer(self, api):
        token = token_for(api, receipt(customer_id=None, receipt_id="A1"))

        assert api.put(f"{BASE}/all/A1", {"customer_id": "carol"}, format="json").status_code == 200

        assert_refused(get(api, token), "aid_receipts_receipt_token_get")
        assert_refused(claim(api, token, "mallory"), "aid_receipts_receipt_token_post")
        assert Receipt.objects.get(receipt_id="A1").customer_id == "carol"

    def test_a_claim_spends_the_token(self, api):
        token = token_for(api, receipt(customer_id=None, receipt_id="A1"))

        assert claim(api, token, "dave").status_code == 200

        assert_refused(get(api, token), "aid_receipts_receipt_token_get")
        assert_refused(claim(api, token, "mallory"), "aid_receipts_receipt_token_post")
        assert Receipt.objects.get(receipt_id="A1").customer_id == "dave"

    def test_a_token_whose_customer_is_not_the_receipts_is_refused(self, api, account):
        token = token_for(api, receipt(customer_id=None, receipt_id="A1"))
        # the receipt gains a customer by a path that spends nothing (a direct write), so only the binding refuses
        Receipt.objects.filter(receipt_id="A1").update(customer_id="erin")

        assert_refused(get(api, token), "aid_receipts_receipt_token_get")
        assert_refused(claim(api, token, "mallory"), "aid_receipts_receipt_token_post")


@pytest.mark.django_db
class TestClaimAudit:
    def test_a_claim_that_moves_a_customers_receipt_records_a_change_customer_id_entry(self, api):
        token = token_for(api, receipt(customer_id="alice", receipt_id="R1"))

        response = claim(api, token, "bob")

        assert response.status_code == 200, response.content
        body = response.json()
        assert body["customer_id"] == "bob"
        (entry,) = [e for e in body["extra_info"] if e["key"].startswith(CHANGE_ENTRY)]
        recorded = json.loads(entry["value"])
        assert (recorded["old"], recorded["new"]) == ("alice", "bob")
        assert recorded["created_by"] and recorded["created_at"].endswith("Z")
        assert len(entry["key"].split(".")) == 5
        (event,) = AuditEvent.objects.filter(object_id=body["id"])
        assert event.action == "dintero.receipts.receipt_token.claim" and entry["key"] in event.summary
        assert api.get(f"{BASE}/customers/alice/R1").status_code == 404

    def test_a_claim_of_an_anonymous_receipt_records_no_change_entry(self, api):
        token = token_for(api, receipt(customer_id=None, receipt_id="A1"))

        body = claim(api, token, "bob").json()

        assert not [e for e in body["extra_info"] if e["key"].startswith(CHANGE_ENTRY)]


@pytest.mark.django_db
class TestCustomerTokensAndReceiptTokens:
    """A customer token (`user:receipts`) uses a receipt token only for its own customer."""

    @pytest.fixture
    def as_customer(self, account, make_customer_token):
        from rest_framework.test import APIClient

        def _as(customer_id: str) -> APIClient:
            client = APIClient()
            token = make_customer_token(account, customer_id, ["user:receipts"])
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            return client

        return _as

    def test_another_customers_receipt_token_is_403_and_leaves_it_alone(self, api, as_customer):
        token = token_for(api, receipt(customer_id="alice", receipt_id="R1"))

        assert get(as_customer("mallory"), token).status_code == 403
        assert claim(as_customer("mallory"), token, "mallory").status_code == 403
        assert Receipt.objects.get(receipt_id="R1").customer_id == "alice"
        assert get(as_customer("alice"), token).status_code == 200

    def test_a_customer_claims_an_anonymous_receipt_only_for_themselves(self, api, as_customer):
        token = token_for(api, receipt(customer_id=None, receipt_id="A1"))

        assert get(as_customer("dave"), token).status_code == 200
        assert claim(as_customer("dave"), token, "erin").status_code == 403
        assert Receipt.objects.get(receipt_id="A1").customer_id is None
        assert claim(as_customer("dave"), token, "dave").status_code == 200
        assert Receipt.objects.get(receipt_id="A1").customer_id == "dave"


@pytest.mark.django_db
def test_a_receipt_token_works_through_every_host_name_of_the_deployment(account, make_client_token):
    from rest_framework.test import APIClient

    writer = APIClient(HTTP_HOST="localhost")
    writer.credentials(HTTP_AUTHORIZATION=f"Bearer {make_client_token(account, ['admin:receipts'])}")
    token = token_for(writer, receipt(customer_id=None, receipt_id="H1"))

    reader = APIClient(HTTP_HOST="127.0.0.1")
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {make_client_token(account, ['admin:receipts'])}")
    assert get(reader, token).status_code == 200, get(reader, token).content
