"""A merchant's first hour (issue 22), in a real browser: duplicate with changes, errors that find the person, the
customer page's spend chart, the segments list's search and sort, and no sideways scroll on the pages changed."""

from __future__ import annotations

import pytest

from tests.e2e.steps import expect, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _no_sideways_scroll(page) -> None:
    scroll_width, inner_width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= inner_width, f"{page.url} is {scroll_width} px wide at {inner_width} px"


def _both_widths(page, shot, name: str) -> None:
    """Look at the page as it is at 1366 px and at 390 px (screenshots of both), and it never scrolls sideways."""
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        _no_sideways_scroll(page)
        shot(page, f"{name}-{width}")
    page.set_viewport_size({"width": 1366, "height": 900})


def _holders(rule) -> set[str]:
    from discounts.models import DiscountRef

    return set(DiscountRef.objects.filter(rule=rule, deleted_at__isnull=True).values_list("customer_id", flat=True))


def _segment_synced_to_a_15_percent_rule(account, wait_for):
    from discounts.pushes import segment_push_start
    from discounts.services import rule_create
    from segments.models import Segment
    from segments.services.segments import segment_create

    segment = segment_create(
        account=account,
        data={"name": "Regulars", "parts": [{"criteria": [{"type": "transaction_count", "min": 15}]}]},
        actor="e2e",
    )
    wait_for(lambda: Segment.objects.get(pk=segment.pk).calculated_at, timeout=60, message="the calculation")
    segment.refresh_from_db()
    rule = rule_create(
        account=account,
        document={
            "name": "Regulars 15%",
            "requirement": {"purchase_from": "2026-01-01T00:00:00Z", "purchase_to": "2027-01-01T00:00:00Z"},
            "reward": {"type": "discount_percent", "value": 15},
        },
        actor="e2e",
    )
    segment_push_start(account=account, segment=segment, rule=rule, mode="sync", remove_departed=True, actor="e2e")
    members = wait_for(lambda: _holders(rule), timeout=30, message="the first sync")
    return segment, rule, members


def test_duplicate_with_changes_moves_the_segment_link_to_the_corrected_rule(
    page, demo_shop, celery_worker, wait_for, shot
):
    from discounts.models import DiscountRule, PushLink

    segment, old, members = _segment_synced_to_a_15_percent_rule(demo_shop, wait_for)
    sign_in(page)
    page.goto(f"/a/{demo_shop.aid}/discount-rules/{old.pk}/")
    # the page says in plain words why the reward cannot change, and offers the way out
    expect(page.locator("#reward-fixed")).to_contain_text("do not change once it exists")
    _both_widths(page, shot, "rule-reward-fixed")
    page.get_by_role("link", name="Duplicate with changes").click()

    # the form starts from the old rule; the merchant corrects the reward and keeps both options
    expect(page.get_by_label("Rule name")).to_have_value("Regulars 15%")
    page.get_by_label("Rule name").fill("Regulars 10%")
    page.get_by_label("Reward value").fill("10")
    expect(page.get_by_label("Deactivate the old rule")).to_be_checked()
    expect(page.get_by_label("Move the old rule's segment links", exact=False)).to_be_checked()
    expect(page.locator("#duplicate-options")).to_contain_text("segment “Regulars”")
    _both_widths(page, shot, "rule-duplicate")
    page.get_by_role("button", name="Create the new rule").click()

    # the new rule's page; the moved link's first sync gives it to every member
    expect(page.locator("h1")).to_contain_text("Regulars 10%")
    new = DiscountRule.objects.get(name="Regulars 10%")
    assert new.document["reward"] == {"type": "discount_percent", "value": 10}
    assert PushLink.objects.get(segment=segment).rule_id == new.pk
    wait_for(lambda: _holders(new) == members, timeout=30, message="the moved link's sync")
    page.reload()
    expect(page.locator("#rule-customers-count")).to_have_attribute("data-count", str(len(members)))
    expect(page.locator("#rule-links")).to_contain_text("Regulars")
    old.refresh_from_db()
    assert not old.active

    # the segment page now pushes to the new rule
    page.goto(f"/a/{demo_shop.aid}/segments/{segment.uuid}/")
    links = page.locator("#segment-links")
    expect(links).to_contain_text("Regulars 10%")
    expect(links).not_to_contain_text("Inactive rule")
