"""Customers: list, search, and the customer page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from receipts.models import Customer
from segments.models import MembershipSpan
from segments.services.segments import segment_create

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


def test_the_customer_page_shows_the_membership_timeline_in_words(shop, owner):
    # given C1 is in Regulars since 3 May (new receipts) and left Lapsed on 9 June (time window)
    c1 = Customer.objects.get(account=shop, customer_id="C1")
    regulars = segment_create(account=shop, data={"name": "Regulars"}, actor="t")
    lapsed = segment_create(account=shop, data={"name": "Lapsed"}, actor="t")
    span = {"customer": c1, "entered_run": uuid.uuid4()}
    MembershipSpan.objects.create(
        segment=lapsed, entered_at=at("2025-04-01T10:00"), entered_reason="definition_change",
        left_at=at("2025-06-09T10:00"), left_run=uuid.uuid4(), left_reason="time_window", **span,
    )  # fmt: skip
    MembershipSpan.objects.create(
        segment=regulars, entered_at=at("2025-05-03T10:00"), entered_reason="new_receipts", **span
    )

    response = owner.get(reverse("web:customer", kwargs={"aid": shop.aid, "pk": c1.pk}))

    # then the timeline says it, newest first, reasons in plain words
    timeline = [
        (t["segment"].name, t["current"], t["entered"], t["entered_reason"], t["left"], t["left_reason"])
        for t in response.context["timeline"]
    ]
    assert timeline == [
        ("Regulars", True, "3 May 2025", "new receipts", None, None),
        (
            "Lapsed",
            False,
            "1 Apr 2025",
            "definition changed",
            "9 Jun 2025",
            "time window",
        ),
    ]
    text = " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).split())
    assert "In Regulars since 3 May 2025 — new receipts" in text
    assert "Left Lapsed on 9 Jun 2025 — time window" in text


def test_a_customer_who_never_entered_a_segment_says_so(shop, owner):
    c2 = Customer.objects.get(account=shop, customer_id="C2")
    body = owner.get(reverse("web:customer", kwargs={"aid": shop.aid, "pk": c2.pk})).content.decode()
    assert "Has not entered or left any segment yet." in body


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
