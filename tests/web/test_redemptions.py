"""The redemptions on a rule's page and the refs with usage on a customer's page, server side: figures, tenancy,
query counts."""

from __future__ import annotations

import pytest
from django.urls import reverse

from discounts.models import DiscountRef
from discounts.services.claims import claim_create
from tests.discounts.factories import discount, give, rule

pytestmark = pytest.mark.django_db


def _used(account, customer_id: str, *, claims: int, amount: int = 2500):
    made = rule(account, discount(name="Coffee -25"))
    give(account, made, customer_id)
    ref = DiscountRef.objects.get(rule=made)
    for n in range(claims):
        body = {"ref": f"{customer_id}-{n}", "purchase_at": "2026-12-01T12:00:00Z", "customer_id": customer_id,
                "discounts": [{"id": str(made.id), "refs": [{"id": str(ref.id), "amount": amount, "usage": 1}]}]}  # fmt: skip
        claim_create(account=account, body=body, actor="pos")
    return made


def test_the_rule_page_shows_totals_and_top_customers(owner, account, django_assert_max_num_queries):
    made = _used(account, "C42", claims=3)
    url = reverse("web:rule", kwargs={"aid": account.aid, "rule_id": made.pk})

    with django_assert_max_num_queries(20):
        response = owner.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-total="usage">3<' in html
    assert "75.00" in html and "C42" in html
    assert 'id="redemptions-data"' in html


def test_another_accounts_staff_cannot_see_a_rules_redemptions(login, account, other_account):
    made = _used(account, "C42", claims=1)
    outsider = login(other_account)

    response = outsider.get(reverse("web:rule", kwargs={"aid": account.aid, "rule_id": made.pk}))
    assert response.status_code == 404
    response = outsider.get(reverse("web:rule", kwargs={"aid": other_account.aid, "rule_id": made.pk}))
    assert response.status_code == 404
