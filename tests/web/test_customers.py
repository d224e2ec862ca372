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
    chart = response.context["chart"]
    assert sum(chart["gross"]) == 350.0 and sum(chart["net"]) == 310.0  # purchases only (R6 was voided)
    assert chart["labels"][-1] == datetime.now(shop.tz).strftime("%Y-%m") and chart["currency"] == "NOK"
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
        ("Regulars", True, "2025-05-03", "new receipts", None, None),
        (
            "Lapsed",
            False,
            "2025-04-01",
            "definition changed",
            "2025-06-09",
            "time window",
        ),
    ]
    text = " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).split())
    assert "In Regulars since 2025-05-03 — new receipts" in text
    assert "Left Lapsed on 2025-06-09 — time window" in text


def test_a_customer_who_never_entered_a_segment_says_so(shop, owner):
    c2 = Customer.objects.get(account=shop, customer_id="C2")
    body = owner.get(reverse("web:customer", kwargs={"aid": shop.aid, "pk": c2.pk})).content.decode()
    assert "Has not entered or left any segment yet." in body


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_spend_chart_shows_months_without_purchases_as_zero():
    from zoneinfo import ZoneInfo

    from loyalty.web.views.customers import spend_chart

    months = [("2025-11", 2, 30000, 24000), ("2026-03", 1, 5000, 4000)]

    chart = spend_chart(months, currency="NOK", tz=ZoneInfo("Europe/Oslo"), now=at("2026-05-02T10:00"))

    assert chart["labels"] == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    assert chart["gross"] == [300.0, 0, 0, 0, 50.0, 0, 0]
    assert chart["net"] == [240.0, 0, 0, 0, 40.0, 0, 0]
    assert chart["purchases"] == [2, 0, 0, 0, 1, 0, 0]
    assert spend_chart([], currency="NOK", tz=ZoneInfo("UTC"))["labels"] == []


def test_the_spend_chart_keeps_the_last_three_years():
    from zoneinfo import ZoneInfo

    from loyalty.web.views.customers import MAX_MONTHS, spend_chart

    chart = spend_chart([("2015-01", 1, 100, 80)], currency="NOK", tz=ZoneInfo("UTC"), now=at("2026-05-02T10:00"))
    assert len(chart["labels"]) == MAX_MONTHS and chart["labels"][-1] == "2026-05" and sum(chart["gross"]) == 0


def test_what_a_customer_buys_most_leaves_out_voided_receipts_and_returned_lines(shop, owner):
    from tests.web.shop import ingest, receipt_doc

    returned = receipt_doc(7, customer="C1", gross=90000, days_ago=1)
    returned["items"][0].update(id="TEA", is_return_item=True, groups=[{"id": "G2", "name": "Tea"}])
    extra = receipt_doc(8, customer="C1", gross=4000, days_ago=1)
    extra["items"][0].update(id="MUG", description="Mug", groups=[{"id": "G9", "name": "Kitchen"}])
    ingest(shop, [returned, extra])
    c1 = Customer.objects.get(account=shop, customer_id="C1")

    response = owner.get(reverse("web:customer", kwargs={"aid": shop.aid, "pk": c1.pk}))

    top = response.context["top"]
    # R1 (net 80) and R2 (net 230) of coffee; R6 was voided; R7's tea was returned; R8 a mug (net 20)
    assert [tuple(t) for t in top["items"]] == [("COFFEE", "Coffee beans", 2, 31000), ("MUG", "Mug", 1, 2000)]
    assert [tuple(t) for t in top["groups"]] == [("G1", "Coffee", 2, 31000), ("G9", "Kitchen", 1, 2000)]
    assert "What they buy most" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_customer_page_says_since_when_they_are_in_each_segment(shop, owner):
    from segments.models import SegmentRun
    from segments.services.runs import segment_recalculate

    segment = segment_create(
        account=shop,
        data={"name": "Buyers", "parts": [{"criteria": [{"type": "transaction_count", "min": 1}]}]},
        actor="t",
    )
    segment_recalculate(run_id=SegmentRun.objects.get(segment=segment).pk)
    c1 = Customer.objects.get(account=shop, customer_id="C1")
    entered = MembershipSpan.objects.get(segment=segment, customer=c1).entered_at

    response = owner.get(reverse("web:customer", kwargs={"aid": shop.aid, "pk": c1.pk}))

    (member_of,) = response.context["segments"]
    expected = entered.astimezone(shop.tz).strftime("%Y-%m-%d")  # one date format on every page
    assert member_of.name == "Buyers" and member_of.member_since == expected
    text = " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).split())
    assert f"Buyers member since {expected}" in text


def test_customer_lists_show_net_beside_gross(shop, owner):
    body = owner.get(reverse("web:customers", kwargs={"aid": shop.aid})).content.decode()
    assert "Net total" in body and "310.00" in body.replace("\u202f", "") and "350.00" in body


def test_a_viewers_customer_page_names_the_customer_id_once(shop, viewer):
    c1 = Customer.objects.get(account=shop, customer_id="C1")
    body = viewer.get(reverse("web:customer", kwargs={"aid": shop.aid, "pk": c1.pk})).content.decode()
    header = body.split('<div class="page-header">', 1)[1].split("</div></div>", 1)[0]
    # the heading is "Customer C1" (the name is hidden); the line under it does not say it again
    assert header.count("C1") == 1
