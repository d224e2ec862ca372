"""Duplicate with changes (discounts.services.duplicate): the way to a corrected reward for a rule that cannot change."""

from __future__ import annotations

import pytest

from discounts import services
from discounts.models import DiscountRef, DiscountRule, PushLink, PushRun
from discounts.pushes import segment_push_start
from discounts.selectors import RuleNotFound
from discounts.services.duplicate import RULE_DUPLICATE, rule_duplicate
from loyalty.core.models import AuditEvent
from segments.models import SegmentRun
from segments.services import segments as segment_services
from segments.services.runs import segment_recalculate
from tests.discounts.factories import ACTOR, discount, give, rule
from tests.receipts.factories import receipt

RECEIPTS = "/v1/accounts/T00000001/receipts"


def corrected(source: DiscountRule, value: int) -> dict:
    """The source's document with another reward value: what the page's form sends."""
    return {**source.document, "name": "Corrected", "reward": {"type": "discount_percent", "value": value}}


def holders(of: DiscountRule) -> set[str]:
    return set(DiscountRef.objects.filter(rule=of, deleted_at__isnull=True).values_list("customer_id", flat=True))


@pytest.fixture
def segment(account, api):
    """A calculated segment of customers who bought twice: a and b."""
    documents = [receipt(customer_id=c) for c in ("a", "a", "b", "b", "c")]
    assert api.post(RECEIPTS, documents, format="json").status_code == 200
    created = segment_services.segment_create(
        account=account,
        data={"name": "Twice", "parts": [{"criteria": [{"type": "transaction_count", "min": 2}]}]},
        actor="t",
    )
    segment_recalculate(run_id=SegmentRun.objects.get(segment=created).id)
    created.refresh_from_db()
    return created


@pytest.mark.django_db
class TestRuleDuplicate:
    def test_a_new_rule_with_the_corrected_reward_and_the_same_requirement(self, account):
        source = rule(account, discount(reward={"type": "discount_percent", "value": 15}))
        give(account, source, "anna")

        created = rule_duplicate(account=account, rule=source, document=corrected(source, 10), actor=ACTOR)

        assert created.pk != source.pk
        assert created.document["reward"] == {"type": "discount_percent", "value": 10}
        assert created.document["requirement"] == source.document["requirement"]
        assert created.purchase_from == source.purchase_from
        # the old rule is untouched unless asked: still active, still held
        source.refresh_from_db()
        assert source.active and holders(source) == {"anna"} and holders(created) == set()
        event = AuditEvent.objects.get(action=RULE_DUPLICATE)
        assert (event.object_id, event.summary) == (str(created.pk), f"duplicate of rule {source.pk}")

    def test_on_request_the_old_rule_is_deactivated(self, account):
        source = rule(account)

        rule_duplicate(account=account, rule=source, document=corrected(source, 5), actor=ACTOR, deactivate_source=True)

        source.refresh_from_db()
        assert not source.active and source.document["active"] is False
        assert AuditEvent.objects.get(action=RULE_DUPLICATE).summary.endswith("which was deactivated")

    def test_a_refused_document_writes_nothing(self, account):
        source = rule(account)
        before = AuditEvent.objects.count()

        with pytest.raises(services.DiscountValidationError):
            rule_duplicate(
                account=account,
                rule=source,
                document=corrected(source, 150),
                actor=ACTOR,
                deactivate_source=True,
                move_links=True,
            )

        source.refresh_from_db()
        assert source.active and DiscountRule.objects.count() == 1 and AuditEvent.objects.count() == before

    def test_another_accounts_rule_is_not_found(self, account, other_account):
        theirs = rule(other_account)

        with pytest.raises(RuleNotFound):
            rule_duplicate(account=account, rule=theirs, document=discount(), actor=ACTOR, deactivate_source=True)

        theirs.refresh_from_db()
        assert theirs.active and DiscountRule.objects.filter(account=account).count() == 0


@pytest.mark.django_db(transaction=True)
def test_moved_links_sync_the_whole_membership_to_the_new_rule(account, segment, celery_worker, wait_for):
    # given a rule kept in sync with the segment (a and b hold it)
    source = rule(account, discount(reward={"type": "discount_percent", "value": 15}))
    segment_push_start(account=account, segment=segment, rule=source, mode="sync", remove_departed=True, actor="t")
    wait_for(lambda: holders(source) == {"a", "b"}, message="the first sync")

    # when it is duplicated with the links moved
    created = rule_duplicate(
        account=account,
        rule=source,
        document=corrected(source, 10),
        actor=ACTOR,
        deactivate_source=True,
        move_links=True,
    )

    # then the link follows the new rule from scratch, and its first sync (a worker's) gives it to every member
    link = PushLink.objects.get()
    assert link.rule_id == created.pk and link.remove_departed
    wait_for(lambda: holders(created) == {"a", "b"}, message="the moved link's sync")
    # the refs commit with the push; the run's outcome is written after them
    wait_for(lambda: PushRun.objects.get(rule=created).finished_at, message="the moved link's push run")
    run = PushRun.objects.filter(rule=created).get()
    assert (run.mode, run.status, run.added) == ("sync", "succeeded", 2)
    link.refresh_from_db()
    assert link.last_version == segment.current_version
    # the old rule keeps what it gave, deactivated
    source.refresh_from_db()
    assert not source.active and holders(source) == {"a", "b"}
    assert "1 segment link moved" in AuditEvent.objects.get(action=RULE_DUPLICATE).summary
