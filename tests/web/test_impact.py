"""The impact panel on the segment and rule pages: its sentence, its figures, and who may see it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from discounts import holdouts
from discounts.impact import stats
from discounts.impact.report import ImpactReport, Side
from discounts.models import PushLink, PushRun
from discounts.pushes import push_execute, segment_push_start
from discounts.services import rule_create
from loyalty.web.views.impact import impact_sentence
from segments.models import SegmentRun
from segments.services.runs import segment_recalculate
from segments.services.segments import segment_create

BUYERS = [{"criteria": [{"type": "transaction_count", "min": 1}]}]


def url(name, account, **kwargs):
    return reverse(f"web:{name}", kwargs={"aid": account.aid, **kwargs})


def a_report(*, customers=(900, 100), converted=(400, 40), lift=None, net=None) -> ImpactReport:
    return ImpactReport(
        holdout_percent=10,
        treatment=Side(customers=customers[0], converted=converted[0]),
        holdout=Side(customers=customers[1], converted=converted[1]),
        uplift=lift,
        incremental_revenue=None,
        incremental_net_of_discount=net,
        theta=0.0,
        srm_p_value=0.5,
    )


class TestSentence:
    def test_a_clear_effect_reads_as_the_issue_says(self):
        report = a_report(
            lift=stats.Estimate(0.124, 0.031, 0.217, 0.004, 800), net=stats.Estimate(4_820_000, 100, 9e6, 0.01, 800)
        )
        assert impact_sentence(report, rule_name="10 % off", currency="NOK") == (
            "Customers who got 10 % off spent 12.4 % more per person than the holdout (95 % CI +3.1 % to +21.7 %), "
            "worth 48\u202f200 NOK after the discount."
        )

    def test_a_discount_that_costs_more_than_it_brings_says_so(self):
        report = a_report(
            lift=stats.Estimate(0.05, 0.01, 0.09, 0.02, 800), net=stats.Estimate(-150_000, -3e5, -1e3, 0.03, 800)
        )
        assert "after the discount it cost 1\u202f500 NOK more than it brought" in impact_sentence(
            report, rule_name="x", currency="NOK"
        )

    def test_an_interval_across_zero_is_no_clear_difference(self):
        report = a_report(lift=stats.Estimate(0.03, -0.04, 0.10, 0.4, 800))
        sentence = impact_sentence(report, rule_name="10 % off", currency="NOK")
        assert sentence.startswith("No clear difference yet: customers who got 10 % off spent 3.0 % more")
        assert "\u22124.0 % to +10.0 %" in sentence

    def test_too_few_customers_is_not_enough_data(self):
        report = a_report(customers=(40, 4), converted=(10, 1), lift=stats.Estimate(0.5, 0.1, 0.9, 0.01, 30))
        assert impact_sentence(report, rule_name="10 % off", currency="NOK").startswith(
            "Not enough data yet to tell whether 10 % off works: 40 customers got it and 4 were held out."
        )

    def test_a_holdout_without_purchases_is_named(self):
        report = a_report(converted=(300, 0))
        assert "nobody in the holdout has bought anything yet" in impact_sentence(report, rule_name="r", currency="NOK")

    def test_nobody_yet(self):
        assert impact_sentence(a_report(customers=(0, 0), converted=(0, 0)), rule_name="r", currency="NOK").startswith(
            "No customer has entered yet"
        )


@pytest.fixture
def holdout_link(shop, monkeypatch):
    # a seed whose 50 % holdout holds out C1 and not C2, so the test knows who is where
    seed = next(s for s in range(1, 10_000) if holdouts.held_out(s, "C1", 50) and not holdouts.held_out(s, "C2", 50))
    monkeypatch.setattr(holdouts, "new_seed", lambda: seed)
    segment = segment_create(account=shop, data={"name": "Buyers", "parts": BUYERS}, actor="test")
    segment_recalculate(run_id=SegmentRun.objects.get(segment=segment).pk)
    segment.refresh_from_db()
    rule = rule_create(
        account=shop,
        document={
            "name": "Coffee 10 %",
            "requirement": {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2099-01-01T00:00:00Z"},
            "reward": {"type": "discount_percent", "value": 10},
        },
        actor="test",
    )
    segment_push_start(
        account=shop, segment=segment, rule=rule, mode="sync", remove_departed=False, actor="t", holdout_percent=50
    )
    for run in PushRun.objects.filter(status="queued"):
        push_execute(push_id=run.pk)
    return PushLink.objects.select_related("segment", "rule").get(rule=rule)


@pytest.mark.django_db(transaction=True)
class TestPages:
    def test_the_segment_and_rule_pages_hold_a_panel_that_loads_after(self, shop, owner, holdout_link):
        segment, rule = holdout_link.segment, holdout_link.rule
        impact = url("segment-link-impact", shop, segment_id=segment.uuid, rule_id=rule.pk)
        page = owner.get(url("segment", shop, segment_id=segment.uuid)).content.decode()
        assert f'data-impact-url="{impact}?partial=1"' in page and "Did it work? Coffee 10 %" in page
        rule_page = owner.get(url("rule", shop, rule_id=rule.pk)).content.decode()
        assert f'data-impact-url="{url("rule-impact", shop, rule_id=rule.pk)}?partial=1"' in rule_page
        assert "holds out 50 %" in rule_page

    @pytest.mark.parametrize("partial", [True, False])
    def test_the_panel(self, shop, owner, holdout_link, partial):
        segment, rule = holdout_link.segment, holdout_link.rule
        response = owner.get(
            url("segment-link-impact", shop, segment_id=segment.uuid, rule_id=rule.pk),
            {"partial": "1"} if partial else {},
        )
        body = response.content.decode()
        assert response.status_code == 200
        assert "Not enough data yet to tell whether Coffee 10 % works: 1 customer got it and 1 was held out" in body
        assert 'data-chart="impact"' in body and "Got the rule" in body
        assert ("<html" in body) is not partial
        summed = owner.get(url("rule-impact", shop, rule_id=rule.pk), {"partial": "1"})
        assert summed.status_code == 200 and summed.context["report"].treatment.customers == 1

    def test_a_link_without_a_holdout_has_no_panel(self, shop, owner, holdout_link):
        PushLink.objects.filter(pk=holdout_link.pk).update(holdout_percent=0)
        segment, rule = holdout_link.segment, holdout_link.rule
        assert owner.get(url("segment-link-impact", shop, segment_id=segment.uuid, rule_id=rule.pk)).status_code == 404
        assert owner.get(url("rule-impact", shop, rule_id=rule.pk)).status_code == 404
        assert "data-impact-url" not in owner.get(url("segment", shop, segment_id=segment.uuid)).content.decode()

    def test_viewers_see_it_and_other_accounts_do_not(self, shop, viewer, login, other_account, holdout_link):
        segment, rule = holdout_link.segment, holdout_link.rule
        impact = url("segment-link-impact", shop, segment_id=segment.uuid, rule_id=rule.pk)
        assert viewer.get(impact).status_code == 200
        stranger = login(other_account, username="mallory")
        assert stranger.get(impact).status_code == 404
        assert stranger.get(url("rule-impact", shop, rule_id=rule.pk)).status_code == 404
        # their own account's address with our ids: nothing either
        theirs = reverse(
            "web:segment-link-impact", kwargs={"aid": other_account.aid, "segment_id": segment.uuid, "rule_id": rule.pk}
        )
        assert stranger.get(theirs).status_code == 404
        assert (
            stranger.get(reverse("web:rule-impact", kwargs={"aid": other_account.aid, "rule_id": rule.pk})).status_code
            == 404
        )
