"""POST /v1/accounts/{aid}/receipts."""

from datetime import UTC, datetime

import pytest

from receipts.models import Customer, IngestBatch, ItemFact, Receipt
from tests.receipts.factories import line, receipt

URL = "/v1/accounts/T00000001/receipts"


@pytest.mark.django_db
class TestIngest:
    def test_stores_receipts_and_returns_their_entities(self, api):
        docs = [receipt(), receipt(customer_id=None)]

        response = api.post(URL, docs, format="json")

        assert response.status_code == 200, response.content
        body = response.json()
        assert body["duplicates"] == 0
        assert len(body["receipts"]) == 2
        assert set(body["receipts"][0]) == {"id", "created_at", "created_by", "updated_at"}
        assert Receipt.objects.count() == 2
        assert IngestBatch.objects.get().stored == 2

    def test_customer_profile_and_counters_follow_the_receipts(self, api, account):
        docs = [
            receipt(
                customer_id="c1",
                net_amount=1000,
                purchase_at="2024-01-01T10:00:00Z",
                customer={"first_name": "Old", "email": "OLD@example.com"},
            ),
            receipt(
                customer_id="c1",
                net_amount=2500,
                purchase_at="2024-03-01T10:00:00Z",
                customer={"first_name": "New", "email": "new@example.com", "phone_number": "+4799999999"},
            ),
            receipt(customer_id="c1", net_amount=999, entry_status="Voided", purchase_at="2024-04-01T10:00:00Z"),
        ]

        assert api.post(URL, docs, format="json").status_code == 200

        customer = Customer.objects.get(account=account, customer_id="c1")
        assert (customer.receipts_count, customer.purchases, customer.net_total) == (3, 2, 3500)
        assert customer.first_purchase_at.isoformat() == "2024-01-01T10:00:00+00:00"
        assert customer.last_purchase_at.isoformat() == "2024-03-01T10:00:00+00:00"
        # the profile is the customer object of the most recent receipt, whatever its status
        assert (customer.first_name, customer.email) == ("Kari", "c1@example.com")

    def test_an_older_receipt_arriving_later_does_not_overwrite_the_profile(self, api, account):
        api.post(
            URL,
            [
                receipt(
                    customer_id="c1",
                    purchase_at="2024-03-01T10:00:00Z",
                    customer={
                        "first_name": "Current",
                        "addresses": [
                            {"address_line": "Gate 1", "postal_place": "Oslo", "country": "NO", "postal_code": "0150"}
                        ],
                    },
                )
            ],
            format="json",
        )
        api.post(
            URL,
            [receipt(customer_id="c1", purchase_at="2023-01-01T10:00:00Z", customer={"first_name": "Stale"})],
            format="json",
        )

        customer = Customer.objects.get(account=account, customer_id="c1")
        assert customer.first_name == "Current"
        assert (customer.cities, customer.countries, customer.postal_codes) == (["oslo"], ["no"], ["0150"])
        assert customer.first_purchase_at.year == 2023 and customer.purchases == 2

    def test_facts_are_written_for_purchases_of_known_customers_only(self, api):
        docs = [
            receipt(customer_id="c1", items=[line("a", groups=("g1", "g2")), line("b", groups=("g1",), line_id=2)]),
            receipt(customer_id=None, items=[line("a")]),
            receipt(customer_id="c2", entry_status="Training", items=[line("a")]),
        ]
        assert api.post(URL, docs, format="json").status_code == 200
        # c1: items a, b; groups g1, g2; the store
        assert ItemFact.objects.count() == 5


@pytest.mark.django_db
class TestDuplicates:
    def test_duplicates_in_the_batch_and_across_batches_are_counted_not_stored(self, api):
        first = receipt(receipt_id="R1", store_id="s1")
        same_id_other_store = receipt(receipt_id="R1", store_id="s2")

        response = api.post(URL, [first, dict(first), same_id_other_store], format="json")
        assert response.json()["duplicates"] == 1
        assert len(response.json()["receipts"]) == 2

        again = api.post(URL, [first], format="json")
        assert again.json() == {"receipts": [], "duplicates": 1}
        assert Receipt.objects.count() == 2
        assert Customer.objects.get().purchases == 2


@pytest.mark.django_db
class TestValidation:
    def post(self, api, body):
        response = api.post(URL, body, format="json")
        assert response.status_code == 400, response.content
        return response.json()["error"]

    def test_an_invalid_receipt_in_1000_stores_nothing_and_names_its_index(self, api):
        docs = [receipt() for _ in range(1000)]
        docs[637]["purchase_at"] = "yesterday"
        del docs[998]["store"]["id"]

        error = self.post(api, docs)

        assert error["code"] == "validation_error"
        assert {(e["index"], e["path"]) for e in error["errors"]} == {(637, "purchase_at"), (998, "store.id")}
        assert Receipt.objects.count() == 0 and Customer.objects.count() == 0

    def test_any_rfc_3339_offset_is_the_same_instant_and_one_past_year_9999_in_utc_is_refused(self, api):
        # PostgreSQL keeps offsets up to ±15:59 only; RFC 3339 allows ±23:59
        far_east = receipt(receipt_id="far-east", purchase_at="2024-05-01T12:00:00+18:42")
        assert api.post(URL, [far_east], format="json").status_code == 200
        stored = Receipt.objects.get(receipt_id="far-east")
        assert stored.purchase_at == datetime(2024, 4, 30, 17, 18, tzinfo=UTC)
        assert stored.document["purchase_at"] == "2024-05-01T12:00:00+18:42"

        error = self.post(api, [receipt(purchase_at="9999-12-31T23:00:00-05:00")])
        assert [(e["index"], e["path"]) for e in error["errors"]] == [(0, "purchase_at")]
        assert Receipt.objects.count() == 1

    def test_more_than_1000_receipts_is_refused_with_the_limit(self, api):
        error = self.post(api, [receipt() for _ in range(1001)])
        assert "At most 1000 receipts" in error["message"]

    @pytest.mark.parametrize(
        ("change", "path"),
        [
            ({"receipt_id": ""}, "receipt_id"),
            ({"customer_id": " padded "}, "customer_id"),
            ({"customer_id": "x" * 256}, "customer_id"),
            ({"currency": "nok"}, "currency"),
            ({"currency": "NOKK"}, "currency"),
            ({"purchase_at": "2024-05-01T12:00:00"}, "purchase_at"),
            ({"purchase_at": "2024-02-30T12:00:00Z"}, "purchase_at"),
            ({"entry_status": "Deleted"}, "entry_status"),
            ({"gross_amount": "100"}, "gross_amount"),
            ({"gross_amount": 2**70}, "gross_amount"),
            ({"customer": {"phone_number": "call me"}}, "customer.phone_number"),
            ({"store": "s1"}, "store"),
        ],
    )
    def test_each_rule_is_reported_with_its_path(self, api, change, path):
        error = self.post(
            api, [receipt(**{k: v for k, v in change.items() if k not in ("store", "receipt_id", "customer")}) | change]
        )
        assert [e["path"] for e in error["errors"]] == [path]
        assert error["errors"][0]["index"] == 0

    @pytest.mark.parametrize("body", [{}, [], "receipts", [1, 2]])
    def test_bodies_that_are_not_receipt_arrays(self, api, body):
        self.post(api, body)
        assert Receipt.objects.count() == 0

    def test_nul_characters_are_refused(self, api):
        # PostgreSQL cannot store U+0000: the parser refuses the body before any receipt is looked at
        error = self.post(api, [receipt(comment="a\x00b")])
        assert "NUL" in error["message"]


@pytest.mark.django_db
def test_responses_match_the_spec(api):
    from tests.spec import assert_response_matches

    assert_response_matches("receipts", "aid_receipts_post", api.post(URL, [receipt()], format="json"))
    assert_response_matches("receipts", "aid_receipts_post", api.post(URL, [{}], format="json"))
