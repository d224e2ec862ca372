"""The back-office in a real browser: sign in, receipts, the segment builder's live count, a calculation's
progress bar, members, a push in sync mode and the rule's customers."""

from __future__ import annotations

import re

import pytest

from tests.e2e.steps import count, expect, sign_in

# Waits go through locators: a wait_for_function predicate is evaluated with eval(), which the pages' CSP forbids.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_see_the_dashboard(page, demo_shop, shot):
    # when the demo user signs in
    sign_in(page)
    # then the dashboard of their account shows with its chart
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator(".account-current .account-name").inner_text() == "Demo Shop"
    expect(page.locator("canvas[data-chart]")).to_be_visible()
    shot(page, "dashboard")
    # and signing out goes back to the login
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/")


def test_filter_receipts_and_open_one(page, demo_shop, shot):
    sign_in(page)
    page.get_by_role("link", name="Receipts", exact=True).click()
    rows = page.locator("#receipts-table tbody tr")
    assert rows.count() == 50
    # when filtering by one store and a minimum amount
    page.get_by_label("Store").select_option("S002")
    page.get_by_label("Min gross").fill("100")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r".*store=S002.*"))
    # stores are named "name (id)"
    stores = page.locator("#receipts-table tbody tr td:nth-child(3)").all_inner_texts()
    assert stores and {store.rsplit(" ", 1)[-1] for store in stores} == {"(S002)"}
    # paging on keeps the filter
    page.get_by_role("link", name="Older →").click()
    stores = page.locator("#receipts-table tbody tr td:nth-child(3)").all_inner_texts()
    assert {store.rsplit(" ", 1)[-1] for store in stores} == {"(S002)"}
    shot(page, "receipts")
    # when opening one, it reads like the printed receipt
    page.locator("#receipts-table tbody tr td:nth-child(2) a").first.click()
    assert page.locator(".paper").is_visible()
    assert "Total" in page.locator(".paper tfoot").inner_text()
    shot(page, "receipt")


SEGMENT = "Regulars at Bergen Bakery"


def test_build_calculate_push_and_see_the_rules_customers(page, demo_shop, celery_worker, shot, wait_for):
    from segments.models import Segment

    sign_in(page)
    both = _build_with_live_counts(page, shot)

    # saving starts the calculation; the progress bar follows it to the end without a manual reload
    page.get_by_role("button", name="Save and calculate").click()
    page.wait_for_url("**/segments/*/")
    segment = Segment.objects.get(name=SEGMENT)
    wait_for(lambda: Segment.objects.get(pk=segment.pk).calculated_at, timeout=60, message="the calculation")
    expect(page.locator("#run-progress")).to_have_count(0, timeout=30_000)
    _see_the_members(page, shot, both)
    _push_to_a_new_synced_rule(page, shot)
    _see_the_rules_customers(page, shot, both)

    # the dashboard now lists the segment and its calculation
    page.get_by_role("link", name="Dashboard", exact=True).click()
    assert SEGMENT in page.locator("main").inner_text()
    shot(page, "dashboard-with-segments")


def _build_with_live_counts(page, shot) -> int:
    """Build a two-part segment, checking the live preview's counts; returns the whole definition's count."""
    page.get_by_role("link", name="Segments", exact=True).click()
    page.get_by_role("link", name="Build your first segment").click()
    page.get_by_label("Name").fill(SEGMENT)
    # part 1: at least 3 purchases
    part1 = page.locator("[data-part='0']")
    part1.get_by_label("At least").fill("3")
    first = count(page, "#preview-count")
    assert first > 0
    # part 2 (AND): bought in store S001
    page.get_by_role("button", name="+ Add a part (AND)").click()
    part2 = page.locator("[data-part='1']")
    part2.get_by_label("Criterion", exact=True).select_option("bought_through_channel")
    part2.get_by_label("Stores").select_option(["S001"])
    expect(page.locator("#preview-count")).not_to_have_attribute("data-count", str(first))
    both = count(page, "#preview-count")
    assert 0 < both < first
    assert count(page, "[data-part-count='0']") == first
    # an invalid value is explained next to its field
    part1.get_by_label("At least").fill("-1")
    page.locator("[data-path='parts[0].criteria[0].min'] .field-error").wait_for()
    part1.get_by_label("At least").fill("3")
    expect(page.locator("#preview-count")).to_have_attribute("data-count", str(both))
    shot(page, "segment-builder")
    return both


def _see_the_members(page, shot, both: int) -> None:
    assert page.locator("#stat-customers").get_attribute("data-count") == str(both)
    members = page.locator("#members-table tbody tr")
    assert members.count() == min(both, 25)
    shot(page, "segment")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "segment-390")
    page.set_viewport_size({"width": 1366, "height": 900})
    # a member's page shows the segment among theirs
    page.locator("#members-table tbody a").first.click()
    assert SEGMENT in page.locator("main").inner_text()
    shot(page, "customer")
    page.go_back()


def _push_to_a_new_synced_rule(page, shot) -> None:
    page.get_by_label("Discount rule", exact=True).select_option("new")
    page.get_by_label("Rule name", exact=True).fill("Oslo regulars 10%")
    page.get_by_label("Reward", exact=True).select_option("discount_percent")
    page.get_by_label("Reward value", exact=True).fill("10")
    page.get_by_label("Valid from", exact=True).fill("2025-01-01")
    page.get_by_label("Valid to", exact=True).fill("2030-12-31")
    page.get_by_label("Keep in sync after every recalculation").check()
    page.get_by_role("button", name="Push to rule").click()
    page.locator("#pushes-table .badge-succeeded").wait_for(timeout=30_000)
    shot(page, "segment-pushed")


def _see_the_rules_customers(page, shot, both: int) -> None:
    # the rule lists the segment's members as its customers
    page.locator("#pushes-table a").first.click()
    assert page.locator("#rule-customers-count").get_attribute("data-count") == str(both)
    assert page.locator("#rule-customers tbody tr").count() == min(both, 50)
    assert SEGMENT in page.locator("main").inner_text()
    shot(page, "rule")
