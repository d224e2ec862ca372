"""The receipts selectors, called directly: what they answer and which domain error they raise."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.http import Http404

from loyalty.core.errors import DomainError, NotFound
from receipts import selectors
from receipts.errors import AmbiguousReceipt, InvalidCursor, InvalidReceiptToken, ReceiptNotFound
from receipts.models import CodeBuyer, Customer, ItemCode, Receipt
from receipts.readmodels.queries import ItemFilter
from receipts.selectors import ReceiptFilters
from receipts.services.ingest import receipt_ingest
from tests.receipts.factories import line, receipt


def store(account, *docs):
    return receipt_ingest(account=account, documents=list(docs), created_by="test")


@pytest.mark.django_db
class TestCustomerReceiptsPage:
    def test_walks_newest_first_with_the_last_receipts_id_as_cursor(self, account):
        for day in range(1, 4):
            store(account, receipt(customer_id="c1", receipt_id=f"D{day}", purchase_at=f"2024-05-0{day}T10:00:00Z"))

        first = selectors.customer_receipts_page(account=account, customer_id="c1", limit=2, starting_after=None)
        rest = selectors.customer_receipts_page(
            account=account, customer_id="c1", limit=2, starting_after=first.starting_after
        )

        assert [r.receipt_id for r in first.receipts] == ["D3", "D2"]
        assert [r.receipt_id for r in rest.receipts] == ["D1"]
        assert rest.starting_after is None

    def test_an_unknown_customer_has_an_empty_page(self, account):
        page = selectors.customer_receipts_page(account=account, customer_id="nobody", limit=5, starting_after=None)

        assert page.receipts == [] and page.starting_after is None

    @pytest.mark.parametrize("cursor", ["not-a-uuid", "0190a2b4-0000-7000-8000-000000000000"])
    def test_a_foreign_cursor_is_an_invalid_cursor(self, account, cursor):
        store(account, receipt(customer_id="c1", receipt_id="R1"))

        with pytest.raises(InvalidCursor) as caught:
            selectors.customer_receipts_page(account=account, customer_id="c1", limit=5, starting_after=cursor)

        assert isinstance(caught.value, DomainError)
        assert (caught.value.status, caught.value.code) == (400, "bad_request")


@pytest.mark.django_db
class TestReceiptByPosId:
    def test_finds_the_one_receipt(self, account):
        store(account, receipt(customer_id="c1", receipt_id="R1"))

        found = selectors.receipt_get_by_pos_id(account=account, receipt_id="R1", customer_id="c1")

        assert found.receipt_id == "R1"

    def test_a_missing_receipt_or_customer_is_not_found(self, account):
        store(account, receipt(customer_id="c1", receipt_id="R1"))

        for kwargs in ({"receipt_id": "nope"}, {"receipt_id": "R1", "customer_id": "someone-else"}):
            with pytest.raises(NotFound) as caught:
                selectors.receipt_get_by_pos_id(account=account, **kwargs)
            assert (caught.value.status, caught.value.message) == (404, "Not found.")

    def test_a_receipt_id_of_several_stores_is_ambiguous_without_a_store(self, account):
        store(account, receipt(receipt_id="R1", store_id="s1"), receipt(receipt_id="R1", store_id="s2"))

        with pytest.raises(AmbiguousReceipt) as caught:
            selectors.receipt_get_by_pos_id(account=account, receipt_id="R1")

        assert caught.value.code == "bad_request" and "s1, s2" in caught.value.message
        assert selectors.receipt_get_by_pos_id(account=account, receipt_id="R1", store_id="s2").store_id == "s2"


@pytest.mark.django_db
def test_a_spent_token_is_an_invalid_token(account):
    stored = store(account, receipt(receipt_id="R1"))
    receipt_row = Receipt.objects.get(uuid=stored.receipts[0].id)
    claims = {
        "receipt_id": "R1",
        "store_id": receipt_row.store_id,
        "sub": str(receipt_row.uuid),
        "customer_id": receipt_row.customer_id,  # a token is honoured only for the receipt's current customer
    }
    assert selectors.receipt_by_token(account=account, claims=claims) == receipt_row

    Receipt.objects.filter(pk=receipt_row.pk).update(token_claimed_at=datetime.now(UTC))

    with pytest.raises(InvalidReceiptToken) as caught:
        selectors.receipt_by_token(account=account, claims=claims)
    assert caught.value.code == "invalid_token"


@pytest.mark.django_db
class TestPages:
    def test_receipts_page_filters(self, account):
        store(
            account,
            receipt(customer_id="c1", receipt_id="A", gross_amount=500, net_amount=400),
            receipt(customer_id=None, receipt_id="B", gross_amount=5000, net_amount=4000),
        )

        def ids(**filters):
            page = selectors.receipts_page(account=account, filters=ReceiptFilters(**filters), limit=10)
            return sorted(r.receipt_id for r in page.rows)

        assert ids() == ["A", "B"]
        assert ids(with_customer=True) == ["A"]
        assert ids(with_customer=False) == ["B"]
        assert ids(min_gross=1000) == ["B"]
        assert ids(max_gross=1000) == ["A"]
        assert ids(search="c1") == ["A"]
        assert ids(store_ids=["elsewhere"]) == []

    def test_a_foreign_cursor_is_an_invalid_cursor(self, account):
        with pytest.raises(InvalidCursor):
            selectors.receipts_page(account=account, filters=ReceiptFilters(), limit=10, after="garbage")
        with pytest.raises(InvalidCursor):
            selectors.customers_page(account=account, search=None, limit=10, after="garbage")

    def test_another_accounts_receipt_or_customer_is_not_found(self, account, other_account):
        store(other_account, receipt(customer_id="c1", receipt_id="R1"))
        theirs = Receipt.objects.get(account=other_account)

        for read, pk in (
            (selectors.receipt_get, theirs.pk),
            (selectors.customer_get, Customer.objects.get(account=other_account).pk),
        ):
            with pytest.raises(ReceiptNotFound) as caught:
                read(account=account, pk=pk)
            assert isinstance(caught.value, NotFound) and isinstance(caught.value, Http404)


@pytest.mark.django_db
def test_customer_segment_json_is_built_by_the_database(account):
    store(
        account,
        receipt(customer_id="c1", receipt_id="R1"),
        receipt(customer_id="c1", receipt_id="R2"),
        receipt(customer_id="c2", receipt_id="R3"),
    )

    def segment(**filters):
        query = {"purchase_from": None, "purchase_to": None, "store_ids": None, "items": None, **filters}
        return selectors.customer_segment_json(account=account, **query)

    assert segment() == b'{"customers":[{"customer_id":"c1","purchases":2},{"customer_id":"c2","purchases":1}]}'
    assert segment(items=[ItemFilter(id="no-such-item")]) == b'{"customers":[]}'


@pytest.mark.django_db(transaction=True)
def test_customer_segment_over_a_codes_whole_history_is_read_from_its_buyers_counts(account):
    # given c1 bought from group g twice and c2 once, in May 2024
    store(
        account,
        receipt(customer_id="c1", purchase_at="2024-05-01T10:00:00Z", items=[line("sku-1", groups=("g",))]),
        receipt(customer_id="c1", purchase_at="2024-05-09T10:00:00Z", items=[line("sku-2", groups=("g",))]),
        receipt(customer_id="c2", purchase_at="2024-05-20T10:00:00Z", items=[line("sku-1", groups=("g",))]),
    )

    def segment(purchase_from=None, purchase_to=None, items=None, store_ids=None):
        body = selectors.customer_segment_json(
            account=account,
            purchase_from=purchase_from,
            purchase_to=purchase_to,
            store_ids=store_ids,
            items=items or [ItemFilter(group="g")],
        )
        return {c["customer_id"]: c["purchases"] for c in json.loads(body)["customers"]}

    may = {"purchase_from": datetime(2024, 5, 1, 10, tzinfo=UTC), "purchase_to": datetime(2024, 5, 20, 10, tzinfo=UTC)}
    # when the period holds every purchase from g, the buyers are kept and answer
    assert segment(**may) == {"c1": 2, "c2": 1}
    code = ItemCode.objects.get(account=account, kind="group", value="g")
    assert code.buyers_since is not None
    CodeBuyer.objects.filter(account=account, code=code, customer__customer_id="c2").update(purchases=7)
    assert segment(**may) == segment() == {"c1": 2, "c2": 7}

    # when the period leaves a purchase out, or a store or a second entry narrows it, the facts answer
    assert segment(purchase_from=datetime(2024, 5, 2, tzinfo=UTC)) == {"c1": 1, "c2": 1}
    assert segment(purchase_to=datetime(2024, 5, 20, 9, tzinfo=UTC)) == {"c1": 2}
    assert segment(store_ids=["store-1"]) == {"c1": 2, "c2": 1}
    assert segment(items=[ItemFilter(group="g"), ItemFilter(id="sku-1")]) == {"c1": 2, "c2": 1}
    # and a purchase stored later outside the period makes the period partial again
    store(account, receipt(customer_id="c2", purchase_at="2024-06-01T10:00:00Z", items=[line("sku-1", groups=("g",))]))
    assert segment(**may) == {"c1": 2, "c2": 1}
    assert segment() == {"c1": 2, "c2": 8}
