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


def _readme_shot(page, name: str, *, top: int = 0, height: int = 760) -> None:
    """A 1366 px wide part of the page, small enough for the README (static/docs/ holds the chosen ones)."""
    from tests.e2e.conftest import SCREENSHOTS

    page.set_viewport_size({"width": 1366, "height": 900})
    page.screenshot(
        path=str(SCREENSHOTS / f"readme-{name}.png"), clip={"x": 0, "y": top, "width": 1366, "height": height}
    )


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
    _readme_shot(page, "rule-duplicate", top=0, height=1000)
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


@pytest.fixture
def empty_shop(transactional_db):
    """An account and its owner, without receipts."""
    from loyalty.accounts.scopes import Role
    from tests.accounts.factories import AccountFactory, MembershipFactory, UserFactory

    account = AccountFactory(aid="T00000001", name="Demo Shop")
    MembershipFactory(user=UserFactory(username="demo"), account=account, role=Role.OWNER)
    return account


def test_the_spend_chart_shows_months_without_purchases_as_zero(page, empty_shop, shot):
    from datetime import timedelta

    from django.utils import timezone

    from receipts.models import Customer
    from tests.web.shop import ingest, receipt_doc

    # a customer who bought about five months ago and again this week: the months between are a gap
    ingest(
        empty_shop,
        [
            receipt_doc(1, customer="C1", gross=40000, days_ago=150),
            receipt_doc(2, customer="C1", gross=12000, days_ago=1),
        ],
    )
    customer = Customer.objects.get(account=empty_shop, customer_id="C1")
    tz = empty_shop.tz
    first = (timezone.now() - timedelta(days=150, minutes=1)).astimezone(tz).strftime("%Y-%m")
    last = (timezone.now() - timedelta(days=1, minutes=2)).astimezone(tz).strftime("%Y-%m")

    sign_in(page)
    page.goto(f"/a/{empty_shop.aid}/customers/{customer.pk}/")
    canvas = page.locator("#spend-chart")
    expect(canvas).to_be_visible()
    drawn = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.getElementById("spend-chart"));
          return {labels: chart.data.labels, net: chart.data.datasets[0].data, gross: chart.data.datasets[1].data,
                  axis: chart.options.scales.y.title.text};
        }"""
    )

    # every month from the first purchase is a bar; the months between the two purchases are there, at 0
    assert drawn["labels"][0] == first and last in drawn["labels"]
    assert len(drawn["labels"]) >= 5
    assert drawn["gross"][0] == 400 and drawn["net"][0] == 380
    assert drawn["gross"][1:4] == [0, 0, 0] and drawn["net"][1:4] == [0, 0, 0]
    assert sum(drawn["gross"]) == 520
    assert drawn["axis"] == "NOK"  # units on the axis
    # net beside gross in the totals, and what they buy most
    expect(page.locator("#stat-spend")).to_contain_text("gross")
    expect(page.locator("#customer-top")).to_contain_text("Coffee")
    _both_widths(page, shot, "customer-spend-chart")
    _readme_shot(page, "customer", top=0, height=740)


def _segments_of_three_sizes(account):
    from django.utils import timezone

    from segments.models import Segment
    from segments.services.segments import segment_create

    parts = [{"criteria": [{"type": "transaction_count", "min": 1}]}]
    sizes = {"Coffee lovers": (120, 2), "Lapsed coffee buyers": (40, 0), "Big spenders": (15, 5)}
    now = timezone.now()
    for name, (size, hours_ago) in sizes.items():
        made = segment_create(account=account, data={"name": name, "parts": parts}, actor="e2e")
        Segment.objects.filter(pk=made.pk).update(
            customers_count=size, calculated_at=now - timezone.timedelta(hours=hours_ago)
        )


def _names(page) -> list[str]:
    return page.locator("#segments-table tbody tr td:first-child a").all_inner_texts()


def test_the_segments_list_is_searched_and_sorted(page, empty_shop, shot):
    _segments_of_three_sizes(empty_shop)
    sign_in(page)
    page.goto(f"/a/{empty_shop.aid}/segments/")
    assert _names(page) == ["Big spenders", "Coffee lovers", "Lapsed coffee buyers"]

    # sorted by size from the column header
    page.locator("#segments-table thead").get_by_role("link", name="Customers").click()
    page.wait_for_url("**sort=largest**")
    assert _names(page) == ["Coffee lovers", "Lapsed coffee buyers", "Big spenders"]

    # searched, keeping the order; then sorted by the last calculation
    page.get_by_label("Search").fill("coffee")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**q=coffee**")
    assert _names(page) == ["Coffee lovers", "Lapsed coffee buyers"]
    page.get_by_label("Sort by").select_option("recent")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**sort=recent**")
    assert _names(page) == ["Lapsed coffee buyers", "Coffee lovers"]
    _both_widths(page, shot, "segments-search-sort")
    _readme_shot(page, "segments", top=0, height=520)

    # nothing matches: the page says so
    page.get_by_label("Search").fill("tea")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#segments-none")).to_contain_text("No segment matches “tea”")


@pytest.mark.allow_console("status of 400")
def test_the_builder_waits_for_a_touch_and_a_failed_save_focuses_the_first_error(page, demo_shop, shot):
    from segments.models import Segment

    sign_in(page)
    page.goto(f"/a/{demo_shop.aid}/segments/new/")
    part = page.locator("[data-part='0']")
    part.get_by_label("Criterion", exact=True).select_option("transaction_amount")
    # the preview found the criterion incomplete, but nobody typed yet: no error is shown
    expect(page.locator("#preview-status")).to_have_text("Fill in the criteria to count the customers.")
    expect(page.locator("#segment-form .field-error")).to_have_count(0)
    expect(part.locator(".criterion-help")).to_contain_text("net amounts (without tax)")

    # saving without a name: the name's error shows and has the focus
    page.get_by_role("button", name="Save and calculate").click()
    expect(page.locator("#id_name-error")).to_have_text("Give the segment a name.")
    assert page.evaluate("document.activeElement.id") == "id_name"
    # the criterion's problem is in the labels' words, never the API's field names
    amount = part.locator("[data-path='parts[0].criteria[0].fromAmount'] .field-error")
    expect(amount).to_have_text("Give at least one of: “From amount”, “To amount”.")
    assert "fromAmount" not in page.locator("#segment-form").inner_text()

    # named, saved again: the criterion's field is the first error, scrolled to and focused
    page.get_by_label("Name").fill("Spenders")
    page.get_by_role("button", name="Save and calculate").click()
    expect(amount).to_be_visible()
    focused = part.locator("[data-path='parts[0].criteria[0].fromAmount'] input")
    expect(focused).to_be_focused()
    assert focused.evaluate(
        "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    _both_widths(page, shot, "segment-builder-first-error")
    assert not Segment.objects.exists()

    # an empty "Bought items or groups" is refused on its field
    part.get_by_label("Criterion", exact=True).select_option("bought_items")
    part.get_by_label("At least N purchases").fill("2")
    page.get_by_role("button", name="Save and calculate").click()
    items = part.locator("[data-path='parts[0].criteria[0].items'] .field-error")
    expect(items).to_have_text("Choose at least one item or group, or “any purchase”.")
    assert not Segment.objects.exists()


@pytest.mark.allow_console("status of 400")
def test_a_failed_push_focuses_its_first_error(page, demo_shop, shot):
    from segments.services.segments import segment_create

    segment = segment_create(
        account=demo_shop,
        data={"name": "Regulars", "parts": [{"criteria": [{"type": "transaction_count", "min": 3}]}]},
        actor="e2e",
    )
    sign_in(page)
    page.set_viewport_size(PHONE)
    page.goto(f"/a/{demo_shop.aid}/segments/{segment.uuid}/")
    # the push form explains its choices in the page
    expect(page.locator("#push-how")).to_contain_text("customers who joined get the rule too")
    expect(page.locator("#push-how")).to_contain_text("“Take back”")
    expect(page.locator("#stat-clv")).to_contain_text("Customer lifetime value")
    page.get_by_label("Discount rule", exact=True).select_option("new")
    page.get_by_label("Rule name", exact=True).fill("")
    page.get_by_role("button", name="Push to rule").click()

    # the page comes back with the form's errors; the first field in error has the focus, in view
    name = page.get_by_label("Rule name", exact=True)
    expect(name).to_be_focused()
    assert name.evaluate("e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")
    expect(page.locator("#push-form .field-error").first).to_have_text("Required for a new rule.")
    _no_sideways_scroll(page)
    shot(page, "segment-push-first-error-390")
