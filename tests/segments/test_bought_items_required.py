"""An empty "Bought items or groups" is refused (issue 22 item 5): items or groups, or an explicit anyPurchase."""

from __future__ import annotations

import pytest

from segments.models import Segment
from tests.segments.factories import BASE, create, run_all, seed_receipts
from tests.spec import assert_response_matches

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("criterion", "path", "message"),
    [
        ({}, "parts[0].criteria[0].items", "Choose at least one item or group, or “any purchase”."),
        ({"storeIds": ["S1"]}, "parts[0].criteria[0].items", "Choose at least one item or group, or “any purchase”."),
        ({"anyPurchase": False}, "parts[0].criteria[0].items", "Choose at least one item or group, or “any purchase”."),
        (
            {"items": [{"group": "G1"}], "anyPurchase": True},
            "parts[0].criteria[0].anyPurchase",
            "Choose items and groups or “any purchase”, not both.",
        ),
        ({"items": []}, "parts[0].criteria[0].items", "This value should be a non-empty list."),
    ],
)
def test_the_api_refuses_an_empty_filter_naming_the_field(api, criterion, path, message):
    segment = {"name": "n", "parts": [{"criteria": [{"type": "bought_items", **criterion}]}]}

    response = api.post(BASE, {"segment": segment}, format="json")

    assert response.status_code == 400, response.content
    assert_response_matches("segments", "segmentPost", response)
    assert [(e["path"], e["message"]) for e in response.json()["errors"]] == [(path, message)]
    assert not Segment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_any_purchase_said_explicitly_counts_every_buyer(api):
    seed_receipts(api)
    everyone = create(api, [{"criteria": [{"type": "transaction_count", "min": 1}]}], name="Everyone")
    explicit = create(api, [{"criteria": [{"type": "bought_items", "anyPurchase": True}]}], name="Any purchase")
    run_all()

    sizes = {s.name: s.customers_count for s in Segment.objects.all()}
    assert sizes["Any purchase"] == sizes["Everyone"] > 0
    response = api.get(f"{BASE}/{explicit}")
    assert_response_matches("segments", "segmentGet", response)
    assert response.json()["parts"][0]["criteria"][0]["anyPurchase"] is True
    assert everyone != explicit
