"""Holdouts on the segment page: the push form's field, the count on the link, the members filter, the CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from discounts import holdouts
from discounts.models import DiscountRef, PushLink, PushRun
from discounts.pushes import push_execute
from discounts.services import rule_create
from segments.models import SegmentRun
from segments.services.runs import segment_recalculate
from segments.services.segments import segment_create

pytestmark = pytest.mark.django_db(transaction=True)

BUYERS = [{"criteria": [{"type": "transaction_count", "min": 1}]}]


def url(name, account, **kwargs):
    return reverse(f"web:{name}", kwargs={"aid": account.aid, **kwargs})


def seed_holding_out(customer: str, other: str) -> int:
    """A seed whose 50 % holdout holds out `customer` and not `other` (so the test knows who is where)."""
    return next(
        seed
        for seed in range(1, 10_000)
        if holdouts.held_out(seed, customer, 50) and not holdouts.held_out(seed, other, 50)
    )


@pytest.fixture
def segment(shop):
    created = segment_create(account=shop, data={"name": "Buyers", "parts": BUYERS}, actor="test")
    segment_recalculate(run_id=SegmentRun.objects.get(segment=created).pk)
    created.refresh_from_db()
    return created


@pytest.fixture
def rule(shop):
    now = datetime.now(UTC)
    return rule_create(
        account=shop,
        document={
            "name": "Coffee 10 %",
            "requirement": {"purchase_from": now.isoformat(), "purchase_to": (now + timedelta(days=30)).isoformat()},
            "reward": {"type": "discount_percent", "value": 10},
        },
        actor="test",
    )


def test_push_with_a_holdout_from_the_form_then_filter_and_export(shop, owner, segment, rule, monkeypatch):
    monkeypatch.setattr(holdouts, "new_seed", lambda: seed_holding_out("C1", "C2"))
    page = owner.get(url("segment", shop, segment_id=segment.uuid)).content.decode()
    assert 'name="holdout_percent"' in page and "always the same people" in page

    response = owner.post(
        url("segment-push", shop, segment_id=segment.uuid),
        {"rule": str(rule.pk), "mode": "sync", "remove_departed": "on", "holdout_percent": "50"},
    )
    assert response.status_code == 302
    for run in PushRun.objects.filter(status="queued"):
        push_execute(push_id=run.pk)
    assert set(DiscountRef.objects.filter(rule=rule).values_list("customer_id", flat=True)) == {"C2"}

    page = owner.get(url("segment", shop, segment_id=segment.uuid)).content.decode()
    assert "holdout 50 %: 1 of 2 held out" in page
    filtered = owner.get(url("segment", shop, segment_id=segment.uuid), {"held_out": str(rule.pk)})
    assert [c.customer_id for c in filtered.context["members"]] == ["C1"]
    assert [c.customer_id for c in owner.get(url("segment", shop, segment_id=segment.uuid)).context["members"]] == [
        "C1",
        "C2",
    ]

    export = owner.get(url("segment-export", shop, segment_id=segment.uuid))
    lines = b"".join(export.streaming_content).decode().splitlines()
    assert lines[0].startswith("customer_id,first_name,last_name,email,phone,member_since,")
    assert lines[0].endswith(",held_out_of")
    since = PushLink.objects.get(rule=rule).assignments.get(held_out=True).assigned_at.strftime("%Y-%m-%d")
    assert lines[1].startswith("C1,") and lines[1].endswith(f",Coffee 10 % (since {since})")
    assert lines[2].startswith("C2,") and lines[2].endswith(",")


@pytest.mark.parametrize(
    ("value", "message"),
    [("51", "between 0 and 50 % of the members"), ("-5", "between 0 and 50 %"), ("ten", "whole percentage")],
)
def test_an_out_of_range_holdout_is_refused_on_the_form(shop, owner, segment, rule, value, message):
    response = owner.post(
        url("segment-push", shop, segment_id=segment.uuid),
        {"rule": str(rule.pk), "mode": "sync", "holdout_percent": value},
    )
    assert response.status_code == 400
    assert message in " ".join(response.context["push_form"].errors["holdout_percent"])
    assert not PushLink.objects.exists()


def test_a_holdout_that_would_change_a_link_is_refused_on_the_field(shop, owner, segment, rule):
    push = url("segment-push", shop, segment_id=segment.uuid)
    assert owner.post(push, {"rule": str(rule.pk), "mode": "sync", "holdout_percent": "10"}).status_code == 302
    response = owner.post(push, {"rule": str(rule.pk), "mode": "sync", "holdout_percent": "20"})
    assert response.status_code == 400
    assert "cannot change" in " ".join(response.context["push_form"].errors["holdout_percent"])
    assert PushLink.objects.get(rule=rule).holdout_percent == 10


def test_another_accounts_rule_is_no_filter(shop, owner, segment, other_account):
    theirs = rule_create(
        account=other_account,
        document={
            "name": "theirs",
            "requirement": {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2099-01-01T00:00:00Z"},
            "reward": {"type": "discount_percent", "value": 10},
        },
        actor="test",
    )
    page = owner.get(url("segment", shop, segment_id=segment.uuid), {"held_out": str(theirs.pk)})
    assert page.status_code == 200 and page.context["held_out_of"] is None
