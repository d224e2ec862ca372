"""The membership history on the customer page (a timeline) and the segment page (recent entries and exits), at a
desktop and a phone width."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from segments.models import MembershipSpan, SegmentRun
from segments.services import segments as services
from segments.services.runs import segment_recalculate
from tests.e2e.steps import expect, sign_in

REGULARS = [{"criteria": [{"type": "transaction_count", "min": 12}]}]
RECENT = [{"criteria": [{"type": "last_purchase_n_days_before", "days": 30}]}]


def run_queued(now=None):
    for run in SegmentRun.objects.filter(status="queued").order_by("created_at"):
        segment_recalculate(run_id=run.id, now=now)


@pytest.mark.django_db(transaction=True)
def test_the_customer_timeline_and_the_segments_entries_and_exits(page, demo_shop, shot):
    # given two segments calculated, then one recalculated a year later (its customers leave by the clock)
    regulars = services.segment_create(account=demo_shop, data={"name": "Regulars", "parts": REGULARS}, actor="t")
    recent = services.segment_create(account=demo_shop, data={"name": "Recent buyers", "parts": RECENT}, actor="t")
    run_queued()
    services.segment_refresh(segment=recent, actor="t", trigger=SegmentRun.Trigger.SCHEDULED)
    run_queued(timezone.now() + timedelta(days=400))
    left = (
        MembershipSpan.objects.filter(segment=recent, left_at__isnull=False, customer__purchases__gte=12)
        .select_related("customer")
        .first()
    )  # a regular, so the timeline has a current membership and a past one
    assert left is not None
    customer = left.customer

    # when staff open that customer's page and the segment's page, on a desktop and on a phone
    sign_in(page)
    customer_url = reverse("web:customer", kwargs={"aid": demo_shop.aid, "pk": customer.pk})
    segment_url = reverse("web:segment", kwargs={"aid": demo_shop.aid, "segment_id": recent.uuid})
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto(customer_url)
        expect(page.locator("#membership-timeline")).to_contain_text("In Regulars since")
        timeline = page.locator("#membership-timeline")
        # then the timeline says where they left and why, in words
        expect(timeline).to_contain_text("Left Recent buyers on")
        expect(timeline).to_contain_text("time window")
        shot(page, f"customer-timeline-{width}")
        page.goto(segment_url)
        expect(page.locator("#movements-table")).to_contain_text("Left")
        shot(page, f"segment-movements-{width}")
    assert MembershipSpan.objects.filter(segment=regulars, customer=customer, left_at__isnull=True).exists()
