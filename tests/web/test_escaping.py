"""Text from receipts and staff input is stored verbatim and rendered escaped on every page that shows it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from receipts.models import Customer, Receipt
from segments.services.segments import segment_create
from tests.web.shop import ingest, receipt_doc

pytestmark = pytest.mark.django_db

EVIL = "<script>alert(1)</script>'; DROP TABLE receipts_receipt; --"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def evil_shop(account):
    document = receipt_doc(1, store="S1", customer="C1")
    document["store"]["name"] = EVIL
    document["items"][0]["description"] = EVIL
    document["customer"]["first_name"] = EVIL
    ingest(account, [document])
    segment = segment_create(
        account=account,
        data={"name": EVIL, "description": EVIL, "parts": [{"criteria": [{"type": "transaction_count", "min": 1}]}]},
        actor="test",
    )
    return account, segment


@pytest.mark.parametrize("page", ["receipts", "receipt", "customers", "customer", "segments", "segment"])
def test_html_in_stored_text_is_rendered_escaped(evil_shop, owner, page):
    # given a receipt, a customer and a segment whose text fields carry HTML and SQL
    account, segment = evil_shop
    receipt = Receipt.objects.get(account=account, receipt_id="R1")
    customer = Customer.objects.get(account=account, customer_id="C1")
    assert receipt.document["store"]["name"] == EVIL  # stored verbatim
    urls = {
        "receipts": reverse("web:receipts", kwargs={"aid": account.aid}),
        "receipt": reverse("web:receipt", kwargs={"aid": account.aid, "pk": receipt.pk}),
        "customers": reverse("web:customers", kwargs={"aid": account.aid}),
        "customer": reverse("web:customer", kwargs={"aid": account.aid, "pk": customer.pk}),
        "segments": reverse("web:segments", kwargs={"aid": account.aid}),
        "segment": reverse("web:segment", kwargs={"aid": account.aid, "segment_id": segment.uuid}),
    }

    # when an owner opens the page
    response = owner.get(urls[page])

    # then the text is there, escaped, and never as markup
    body = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)" not in body
    assert ESCAPED in body
