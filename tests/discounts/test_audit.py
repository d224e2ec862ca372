"""Discount writes record their own audit events, in their transaction, whichever way they come in (API, pages,
admin, pushes); the actions are the pages' names where a page makes the change."""

from __future__ import annotations

import pytest

from discounts import services
from discounts.models import DiscountRule
from loyalty.core.models import AuditEvent
from tests.discounts.factories import ACTOR, discount, give, rule
from tests.helpers import audit_events

BASE = "/v1/accounts/T00000001/discounts"


def events() -> list[tuple[str, str, str, str]]:
    return [(e.actor, e.action, e.object_type, e.object_id) for e in audit_events().order_by("id")]


@pytest.mark.django_db
class TestServicesAudit:
    def test_create_update_give_take_delete_each_record_one_event(self, account):
        made = rule(account)
        services.rule_update(account=account, rule=made, changes={"name": "Renamed"}, actor=ACTOR)
        give(account, made, "c1", "c2")
        give(account, made, "c1")  # adds nothing: no event
        services.rule_customers_take(account=account, rule=made, customer_ids=["c1"], actor=ACTOR)
        services.rule_delete(account=account, rule=made, actor=ACTOR)
        target = ("discounts.DiscountRule", str(made.pk))
        assert events() == [
            (ACTOR, "web:rule-new", *target),
            (ACTOR, "web:rule-edit", *target),
            (ACTOR, "discounts:rule-customers-give", *target),
            (ACTOR, "discounts:rule-customers-take", *target),
            (ACTOR, "discounts:rule-delete", *target),
        ]
        assert audit_events().filter(account=account).count() == 5

    def test_the_summary_counts_customers_and_never_names_them(self, account):
        made = rule(account)
        give(account, made, "anna@example.com", "per@example.com")
        event = AuditEvent.objects.get(action="discounts:rule-customers-give")
        assert event.summary == "2 customer refs"

    def test_a_refused_write_records_nothing(self, account):
        with pytest.raises(services.DiscountValidationError):
            services.rule_create(account=account, document={"name": "no reward"}, actor=ACTOR)
        assert not audit_events().exists()


@pytest.mark.django_db
def test_api_writes_are_audited_with_the_clients_id(api, account):
    response = api.post(f"{BASE}/rules", discount(), format="json")
    assert response.status_code == 200, response.content
    created = DiscountRule.objects.get()
    # the fixture's API client was created through the audited service too; the rule's write is the one event after
    (event,) = audit_events()
    assert (event.account, event.action, event.object_id) == (account, "web:rule-new", str(created.pk))
    assert event.actor == created.created_by
