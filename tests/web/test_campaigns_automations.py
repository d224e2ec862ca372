"""The campaign and automation pages: what they show, their forms, their counters, tenancy and roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from discounts.models import AutomationDelivery, Campaign, DiscountUsage
from discounts.services import automations as automation_services
from discounts.services import campaigns as campaign_services
from discounts.services.automations import automation_events_process
from discounts.services.events import event_receive
from tests.discounts.factories import ACTOR, give, rule

pytestmark = pytest.mark.django_db
NOW = datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def an_automation(account, given, **filter_):
    body = {
        "name": "Welcome at S1",
        "requirement": {
            "events": ["receipt_add"],
            "automation_from": iso(NOW - timedelta(days=1)),
            "automation_to": iso(NOW + timedelta(days=30)),
            "filter": filter_ or {"$.store.id": ["S1"], "$.gross_amount": [{"numeric": [">", 500]}]},
        },
        "actions": [
            {"type": "discount", "id": str(given.id)},
            {"type": "http", "url": "https://hooks.example/x", "method": "POST"},
        ],
    }
    automation, _ = automation_services.automation_create(account=account, body=body, actor=ACTOR)
    return automation


def receipt_arrives(account, customer: str, delivery: str) -> None:
    receipt = {
        "id": f"0193a2b4-0000-7000-8000-{delivery.rjust(12, '0')}",
        "customer_id": customer,
        "store": {"id": "S1"},
        "receipt_id": delivery,
        "purchase_at": "2025-05-01T12:00:00Z",
        "gross_amount": 900,
    }
    event_receive(account=account, event_type="receipt_add", delivery_id=delivery, body={"receipt": receipt})


class TestCampaignPages:
    def test_create_then_see_its_rules_redemptions_and_cost(self, account, owner):
        response = owner.post(
            f"/a/{account.aid}/campaigns/new/", {"name": "Summer", "campaign_id": "summer", "description": "Sun"}
        )
        campaign = Campaign.objects.get()
        assert response.status_code == 302 and response.url.endswith(f"/campaigns/{campaign.pk}/")
        used = rule(account, name="Chairs", campaign_id="summer")
        rule(account, name="Idle", campaign_id="summer")
        rule(account, name="Elsewhere")
        give(account, used, "C1", "C2")
        ref = used.refs.get(customer_id="C1")
        for n, (usage, amount, released) in enumerate(((1, 5000, False), (2, 3000, False), (1, 9999, True))):
            DiscountUsage.objects.create(
                account=account,
                rule=used,
                ref=ref,
                customer_id="C1",
                source="claim",
                source_key=f"k{n}",
                purchase_key=f"p{n}",
                usage=usage,
                amount=amount,
                at=NOW,
                released_at=NOW if released else None,
            )

        page = owner.get(f"/a/{account.aid}/campaigns/{campaign.pk}/").content.decode()

        assert "Chairs" in page and "Idle" in page and "Elsewhere" not in page
        assert 'id="campaign-redemptions">3<' in page  # the released claim left out
        assert "80.00" in page  # 5000 + 3000 minor units
        assert "Summer" in owner.get(f"/a/{account.aid}/campaigns/").content.decode()

    def test_edit_delete_and_restore(self, account, owner):
        campaign = campaign_services.campaign_create(
            account=account, body={"name": "A", "campaign_id": "a"}, actor=ACTOR
        )
        form = owner.get(f"/a/{account.aid}/campaigns/{campaign.pk}/edit/").content.decode()
        assert 'value="a"' in form and "disabled" in form

        owner.post(f"/a/{account.aid}/campaigns/{campaign.pk}/edit/", {"name": "B", "private": "on"})
        campaign.refresh_from_db()
        assert (campaign.name, campaign.private, campaign.campaign_id) == ("B", True, "a")

        owner.post(f"/a/{account.aid}/campaigns/{campaign.pk}/delete/")
        campaign.refresh_from_db()
        assert campaign.deleted_at is not None
        owner.post(f"/a/{account.aid}/campaigns/{campaign.pk}/delete/")
        campaign.refresh_from_db()
        assert campaign.deleted_at is None

    def test_a_taken_key_is_shown_on_the_form(self, account, owner):
        campaign_services.campaign_create(account=account, body={"name": "A", "campaign_id": "a"}, actor=ACTOR)

        response = owner.post(f"/a/{account.aid}/campaigns/new/", {"name": "B", "campaign_id": "a"})

        assert response.status_code == 400
        page = response.content.decode()
        assert "A campaign with this key already exists" in page and "campaign_id exists" not in page
        assert Campaign.objects.count() == 1

    def test_a_key_with_a_slash_is_refused_in_the_forms_words(self, account, owner):
        response = owner.post(f"/a/{account.aid}/campaigns/new/", {"name": "B", "campaign_id": "a/b"})

        assert response.status_code == 400
        page = response.content.decode()
        assert "The key can have at most 255 characters and no &#x27;/&#x27;." in page
        assert "without &#x27;/&#x27;" not in page
        assert not Campaign.objects.exists()

    def test_the_list_says_key_like_its_column(self, account, owner):
        campaign_services.campaign_create(account=account, body={"name": "A", "campaign_id": "a"}, actor=ACTOR)
        page = owner.get(f"/a/{account.aid}/campaigns/").content.decode()
        assert "whose key it names" in page and "campaign id" not in page.lower()

    @pytest.mark.parametrize("where", ["new/", "{pk}/edit/"])
    def test_a_viewer_opening_a_form_is_told_why(self, account, viewer, where):
        mine = campaign_services.campaign_create(account=account, body={"name": "Mine"}, actor=ACTOR)
        response = viewer.get(f"/a/{account.aid}/campaigns/{where.format(pk=mine.pk)}", follow=True)
        landed = response.redirect_chain[-1][0]
        assert landed.endswith("/campaigns/" if where == "new/" else f"/campaigns/{mine.pk}/")
        assert "you can look but not change" in response.content.decode()

    def test_a_rule_links_to_its_campaign(self, account, owner):
        campaign = campaign_services.campaign_create(
            account=account, body={"name": "Sun", "campaign_id": "s"}, actor=ACTOR
        )
        grouped, orphan = rule(account, campaign_id="s"), rule(account, campaign_id="gone")

        page = owner.get(f"/a/{account.aid}/discount-rules/{grouped.pk}/").content.decode()
        assert f"/campaigns/{campaign.pk}/" in page and "Sun" in page
        assert "(no such campaign)" in owner.get(f"/a/{account.aid}/discount-rules/{orphan.pk}/").content.decode()

    def test_empty_list(self, account, owner):
        assert "No campaigns yet" in owner.get(f"/a/{account.aid}/campaigns/").content.decode()

    def test_tenancy_and_roles(self, account, other_account, owner, viewer):
        theirs = campaign_services.campaign_create(account=other_account, body={"name": "X"}, actor=ACTOR)
        mine = campaign_services.campaign_create(account=account, body={"name": "Mine"}, actor=ACTOR)

        assert owner.get(f"/a/{account.aid}/campaigns/{theirs.pk}/").status_code == 404
        assert owner.get(f"/a/{other_account.aid}/campaigns/").status_code == 404
        assert owner.post(f"/a/{account.aid}/campaigns/{theirs.pk}/delete/").status_code == 404
        assert viewer.get(f"/a/{account.aid}/campaigns/{mine.pk}/").status_code == 200
        assert viewer.post(f"/a/{account.aid}/campaigns/{mine.pk}/delete/").status_code == 403
        assert viewer.post(f"/a/{account.aid}/campaigns/new/", {"name": "No"}).status_code == 403
        assert Campaign.objects.filter(deleted_at__isnull=True).count() == 2


class TestAutomationPages:
    def test_the_filter_in_words_the_counters_and_the_deliveries(self, account, owner):
        given = rule(account, name="Welcome")
        automation = an_automation(account, given)
        receipt_arrives(account, "C1", "1")
        automation_events_process(account_id=account.pk)
        http = AutomationDelivery.objects.get(kind="http")
        AutomationDelivery.objects.filter(pk=http.pk).update(
            status="failed", attempts=5, error="The target answered 503."
        )

        page = owner.get(f"/a/{account.aid}/automations/{automation.pk}/").content.decode()

        assert "store is S1" in page and "$.store.id" not in page
        assert "and gross amount is more than 5.00 NOK" in page  # 500 minor units
        assert "Once per customer" in page and "A receipt arrives" in page
        assert "The target answered 503." in page and "Retry" in page
        counts = owner.get(f"/a/{account.aid}/automations/{automation.pk}/counts/").json()["counts"]
        assert counts == {"seen": 1, "triggered": 1, "pending": 1, "succeeded": 0, "failed": 1}
        assert "Welcome at S1" in owner.get(f"/a/{account.aid}/automations/").content.decode()

    def test_retry_puts_a_failed_delivery_back(self, account, owner):
        automation = an_automation(account, rule(account))
        receipt_arrives(account, "C1", "1")
        automation_events_process(account_id=account.pk)
        http = AutomationDelivery.objects.get(kind="http")
        AutomationDelivery.objects.filter(pk=http.pk).update(status="failed", error="down")

        response = owner.post(f"/a/{account.aid}/automations/{automation.pk}/deliveries/{http.pk}/retry/")

        assert response.status_code == 302
        http.refresh_from_db()
        assert (http.status, http.error) == ("pending", "")
        # a delivery that did not fail cannot be retried
        assert (
            owner.post(f"/a/{account.aid}/automations/{automation.pk}/deliveries/{http.pk}/retry/").status_code == 404
        )

    def test_delete(self, account, owner):
        automation = an_automation(account, rule(account))

        owner.post(f"/a/{account.aid}/automations/{automation.pk}/delete/")

        automation.refresh_from_db()
        assert automation.deleted_at is not None
        assert "Deleted" in owner.get(f"/a/{account.aid}/automations/{automation.pk}/").content.decode()

    def test_empty_list_and_links_from_the_rules_page(self, account, owner):
        assert "No automations yet" in owner.get(f"/a/{account.aid}/automations/").content.decode()
        rules_page = owner.get(f"/a/{account.aid}/discount-rules/").content.decode()
        assert f"/a/{account.aid}/automations/" in rules_page and f"/a/{account.aid}/campaigns/" in rules_page

    def test_tenancy_and_roles(self, account, other_account, owner, viewer):
        theirs = an_automation(other_account, rule(other_account))
        mine = an_automation(account, rule(account))

        for path in ("", "counts/"):
            assert owner.get(f"/a/{account.aid}/automations/{theirs.pk}/{path}").status_code == 404
        assert owner.post(f"/a/{account.aid}/automations/{theirs.pk}/delete/").status_code == 404
        assert viewer.get(f"/a/{account.aid}/automations/{mine.pk}/").status_code == 200
        assert (
            f"/automations/{mine.pk}/delete/"
            not in viewer.get(f"/a/{account.aid}/automations/{mine.pk}/").content.decode()
        )
        assert (
            f"/automations/{mine.pk}/delete/" in owner.get(f"/a/{account.aid}/automations/{mine.pk}/").content.decode()
        )
        assert viewer.post(f"/a/{account.aid}/automations/{mine.pk}/delete/").status_code == 403
        mine.refresh_from_db()
        theirs.refresh_from_db()
        assert mine.deleted_at is None and theirs.deleted_at is None


def test_delivery_counts_are_capped(account, owner, monkeypatch):
    from discounts.selectors import automations as selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 1)
    automation = an_automation(account, rule(account))
    receipt_arrives(account, "C1", "1")
    receipt_arrives(account, "C2", "2")
    automation_events_process(account_id=account.pk)

    body = owner.get(f"/a/{account.aid}/automations/{automation.pk}/counts/").json()

    assert body["counts"]["pending"] == 2  # two triggers, each one discount and one http delivery: capped at 2
    assert body["display"]["pending"] == "1+" and body["display"]["triggered"] == "2"
