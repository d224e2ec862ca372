"""Customers: list, search, and the customer page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from receipts.models import Customer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("q", "expected"),
    [("", ["C1", "C2"]), ("C2", ["C2"]), ("c1@example.com", ["C1"]), ("firstc2", ["C2"]), ("C99", [])],
)
def test_the_list_searches_this_accounts_customers(shop, owner, q, expected, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        response = owner.get(reverse("web:customers", kwargs={"aid": shop.aid}), {"q": q})
    assert [c.customer_id for c in response.context["result"].rows] == expected


def test_the_customer_page_has_profile_totals_chart_receipts_segments_and_rules(shop, owner):
    customer = Customer.objects.get(account=shop, customer_id="C1")
    response = owner.get(reverse("web:customer", kwargs={"aid": shop.aid, "pk": customer.pk}))
    assert response.status_code == 200
    assert [r.receipt_id for r in response.context["receipts"]] == ["R1", "R2", "R6"]
    assert sum(response.context["chart"]["values"]) == 350.0  # purchases only (R6 was voided)
    assert "c1@example.com" in response.content.decode()


def test_another_accounts_customer_is_404(shop, owner, other_account):
    foreign = Customer.objects.get(account=other_account)
    assert owner.get(reverse("web:customer", kwargs={"aid": shop.aid, "pk": foreign.pk})).status_code == 404
