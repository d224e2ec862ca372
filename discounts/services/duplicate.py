"""Duplicate with changes: the way out of a rule whose reward or start cannot change.

Dintero's rules never change `reward` or `requirement.purchase_from` in an update (customers and tills may hold the
rule as it was). To give a different reward a merchant makes a new rule from the old one's document with the
corrections, and may in the same step deactivate the old rule and move the segments' sync links to the new one.

One transaction: the new rule, the old rule's deactivation and the moved links are written together or not at all.
A moved link starts over (`last_version` cleared), so its first sync gives the new rule to the whole current
membership; that sync is queued as a push run, sent after commit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from discounts.models import DiscountRule, PushLink, PushRun
from discounts.services import _audit, _lock_rule, rule_create, rule_update
from loyalty.accounts.models import Account
from loyalty.core.jobs import enqueue_on_commit

RULE_DUPLICATE = "web:rule-duplicate"


def rule_duplicate(
    *,
    account: Account,
    rule: DiscountRule,
    document: Any,
    actor: str,
    deactivate_source: bool = False,
    move_links: bool = False,
) -> DiscountRule:
    """A new rule from `document` (the old rule's, corrected); optionally the old one deactivated and its push links
    moved onto the new one (each then syncs the whole membership to it). Returns the new rule."""
    with transaction.atomic():
        source = _lock_rule(account, rule.pk)
        created = rule_create(account=account, document=document, actor=actor)
        if deactivate_source and source.active:
            rule_update(account=account, rule=source, changes={"active": False}, actor=actor)
        moved = _move_links(account=account, source=source, target=created, actor=actor) if move_links else 0
        _audit(
            created,
            account=account,
            actor=actor,
            action=RULE_DUPLICATE,
            summary=f"duplicate of rule {source.pk}"
            + (", which was deactivated" if deactivate_source else "")
            + (f"; {moved} segment link{'s' if moved != 1 else ''} moved" if moved else ""),
        )
    return created


def _move_links(*, account: Account, source: DiscountRule, target: DiscountRule, actor: str) -> int:
    """Point the source's sync links at the target, from scratch, and queue each one's first sync."""
    links = list(PushLink.objects.filter(account=account, rule=source).order_by("created_at"))
    if not links:
        return 0
    PushLink.objects.filter(pk__in=[link.pk for link in links]).update(rule=target, last_version=None)
    runs = PushRun.objects.bulk_create(
        PushRun(
            account=account,
            segment_id=link.segment_id,
            rule=target,
            mode=PushRun.Mode.SYNC,
            remove_departed=link.remove_departed,
            created_by=actor,
        )
        for link in links
    )
    for run in runs:
        enqueue_on_commit("discounts.push", args=[str(run.id)])
    return len(links)
