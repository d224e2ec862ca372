"""The dashboard: each figure against the previous period, the largest active segments, plain words."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from segments.models import Segment, SegmentRun
from segments.services.segments import segment_create
from tests.web.shop import ingest, receipt_doc

pytestmark = pytest.mark.django_db


def dashboard(client, account):
    return client.get(reverse("web:dashboard", kwargs={"aid": account.aid}))


def test_each_figure_is_compared_with_the_previous_period(shop, owner):
    # given two purchases in the 90 days before the last 90 (the shop has 5 in the last 90)
    ingest(shop, [receipt_doc(30, gross=10000, days_ago=100), receipt_doc(31, gross=10000, days_ago=120)])

    response = dashboard(owner, shop)

    cards = {card["key"]: card for card in response.context["cards"]}
    assert (cards["receipts"]["value"], cards["receipts"]["previous"]) == (5, 2)
    assert cards["receipts"]["change"] == {"direction": "up", "arrow": "▲", "percent": 150}
    assert cards["revenue"]["change"]["percent"] == 460  # 1,119.90 against 200.00
    body = response.content.decode()
    assert "▲</span> 150 %" in body and "vs the 90 days before" in body


def test_a_figure_without_a_previous_period_says_so_instead_of_a_percentage(shop, owner):
    cards = {card["key"]: card for card in dashboard(owner, shop).context["cards"]}
    assert cards["receipts"]["change"] is None
    assert "none in the 90 days before" in dashboard(owner, shop).content.decode()


def test_the_largest_active_segments_are_listed_first(account, owner):
    sizes = {"A small": 5, "B big": 500, "C middle": 50, "D inactive": 9999}
    for name, size in sizes.items():
        segment = segment_create(
            account=account,
            data={"name": name, "parts": [{"criteria": [{"type": "transaction_count", "min": 1}]}]},
            actor="test",
        )
        Segment.objects.filter(pk=segment.pk).update(customers_count=size, active=name != "D inactive")

    listed = [s.name for s in dashboard(owner, account).context["segments"]]

    assert listed == ["B big", "C middle", "A small"]


def test_triggers_are_in_plain_words(account, owner):
    segment = segment_create(
        account=account,
        data={"name": "Regulars", "parts": [{"criteria": [{"type": "transaction_count", "min": 1}]}]},
        actor="test",
    )
    SegmentRun.objects.create(
        id=uuid.uuid4(), segment=segment, definition_version=1, trigger=SegmentRun.Trigger.NEW_RECEIPTS
    )
    body = dashboard(owner, account).content.decode()
    assert "<td>new receipts</td>" in body
    assert "New Receipts" not in body
