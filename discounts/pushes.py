"""Pushing a segment onto a discount rule: once, or kept in sync after every published recalculation.

A push applies one published membership version, never a half-written one. Pushed once, or at a link's first
sync, the rule goes to every member (without a holdout: inside PostgreSQL, in one statement); each later sync applies only what changed since the version the link last applied
(members who entered get it; with "remove departed", those who left lose what this segment gave them). Giving is
idempotent and a push is one transaction, so Celery retries are safe.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from discounts import documents, holdouts, selectors
from discounts.errors import HoldoutError, PushError
from discounts.models import DiscountRule, PushLink, PushRun
from discounts.services import (
    rule_create,
    rule_customers_give,
    rule_customers_take_departed,
    rule_customers_take_given,
    rule_members_give,
)
from discounts.services.holdouts import link_assign
from loyalty.accounts.models import Account
from loyalty.core.jobs import enqueue_on_commit
from loyalty.core.services import audit_record
from segments.models import Segment

logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=10)
RESEND_AFTER = timedelta(minutes=2)
# A publish can delete the version a whole push is giving (see _apply_whole): it reads the new one, this many times.
WHOLE_PUSH_ATTEMPTS = 3


__all__ = ["PushError"]  # raised here; importable from here

# Audit actions: the back-office pages' names for these writes (see discounts.services).
PUSH_START = "web:segment-push"
PUSH_LINK_REMOVE = "web:segment-unlink"


def given_by(segment: Segment) -> str:
    """How refs given by this segment's pushes are recognised later (their created_by)."""
    return f"segment:{segment.uuid}"


def _send(push_id: uuid.UUID) -> None:
    """Queue the push's task after commit; a broker that is down leaves the run queued for the sweep."""
    enqueue_on_commit("discounts.push", args=[str(push_id)])


def _audit(segment: Segment, *, account: Account, actor: str, action: str, rule: DiscountRule, summary: str) -> None:
    audit_record(
        account=account,
        actor=actor,
        action=action,
        object_type=Segment._meta.label,
        object_id=str(segment.uuid),
        summary=f"{summary} rule {rule.pk}",
    )


def segment_push_start(
    *,
    account: Account,
    segment: Segment,
    rule: DiscountRule,
    mode: str,
    remove_departed: bool,
    actor: str,
    holdout_percent: int | None = None,
) -> PushRun:
    """Queue a push (and, for `sync`, link the rule to the segment). The work happens in Celery after commit.

    `holdout_percent` (0-50) holds that share of the members out of a new link; None keeps a link's own (0 for a
    new one). A link's holdout never changes (each customer's side must not), and a push once has no link to keep
    one on: both are refused naming `holdoutPercent`."""
    with transaction.atomic():
        run = _push_queue(
            account=account,
            segment=segment,
            rule=rule,
            mode=mode,
            remove_departed=remove_departed,
            actor=actor,
            holdout_percent=holdout_percent,
        )
        _audit(segment, account=account, actor=actor, action=PUSH_START, rule=rule, summary=f"push ({mode}) onto")
    return run


def _holdout_check(*, segment: Segment, rule: DiscountRule, mode: str, holdout_percent: int | None) -> None:
    if holdout_percent is None:
        return
    if isinstance(holdout_percent, bool) or not isinstance(holdout_percent, int):
        raise HoldoutError("holdoutPercent must be a whole number from 0 to 50.")
    if not 0 <= holdout_percent <= holdouts.MAX_HOLDOUT_PERCENT:
        raise HoldoutError("holdoutPercent must be from 0 to 50: a larger holdout would give the rule to a minority.")
    current = PushLink.objects.filter(segment=segment, rule=rule).values_list("holdout_percent", flat=True).first()
    if mode == PushRun.Mode.ONCE:
        # a push once keeps out whoever the rule's link holds out, and holds out nobody of its own
        if holdout_percent and holdout_percent != current:
            raise HoldoutError("A holdout needs mode sync: the link keeps who was held out and reports the impact.")
        return
    if current is not None and current != holdout_percent:
        raise HoldoutError(
            f"This rule already follows the segment with a holdout of {current} %; a holdout cannot change during "
            "a link's life (customers would change sides). Stop syncing and push again for a new one."
        )


def _push_queue(
    *,
    account: Account,
    segment: Segment,
    rule: DiscountRule,
    mode: str,
    remove_departed: bool,
    actor: str,
    holdout_percent: int | None = None,
) -> PushRun:
    """segment_push_start without the audit event: the syncs the platform starts itself."""
    _holdout_check(segment=segment, rule=rule, mode=mode, holdout_percent=holdout_percent)
    if mode not in PushRun.Mode.values:
        raise PushError("mode must be once or sync")
    if rule.account_id != account.pk or segment.account_id != account.pk or rule.deleted_at is not None:
        raise PushError("The rule and the segment must belong to this account.")
    if mode == PushRun.Mode.ONCE and segment.current_version is None:
        raise PushError(f"Segment {segment.name} has not been calculated yet; push once it has, or keep it in sync.")
    with transaction.atomic():
        if mode == PushRun.Mode.SYNC:
            PushLink.objects.update_or_create(
                segment=segment,
                rule=rule,
                defaults={"account": account, "remove_departed": remove_departed},
                create_defaults={
                    "account": account,
                    "remove_departed": remove_departed,
                    "created_by": actor,
                    "holdout_percent": holdout_percent or 0,
                    "holdout_seed": holdouts.new_seed(),
                },
            )
        run = PushRun.objects.create(
            account=account, segment=segment, rule=rule, mode=mode, remove_departed=remove_departed, created_by=actor
        )
        _send(run.id)
    return run


def push_link_remove(*, account: Account, segment: Segment, rule: DiscountRule, actor: str) -> bool:
    """Stop keeping the rule in sync; customers keep what they were given."""
    with transaction.atomic():
        deleted, _ = PushLink.objects.filter(account=account, segment=segment, rule=rule).delete()
        if deleted:
            logger.info("%s unlinked rule %s from segment %s", actor, rule.pk, segment.pk)
            _audit(segment, account=account, actor=actor, action=PUSH_LINK_REMOVE, rule=rule, summary="unlinked")
    return bool(deleted)


def push_execute(*, push_id: str | uuid.UUID) -> PushRun | None:
    run = PushRun.objects.select_related("segment", "rule", "account").filter(pk=push_id).first()
    if run is None or run.status not in (PushRun.Status.QUEUED, PushRun.Status.RUNNING):
        return run
    started = time.monotonic()
    PushRun.objects.filter(pk=run.pk).update(status=PushRun.Status.RUNNING, started_at=timezone.now())
    try:
        if run.rule.deleted_at is not None:
            raise PushError("The discount rule has been deleted.")
        with transaction.atomic():
            outcome = _apply(run)
    except PushError as exc:
        return _finish(run, started, status=PushRun.Status.FAILED, error_code="push_failed", error_message=str(exc))
    except Exception as exc:
        _finish(
            run, started, status=PushRun.Status.FAILED, error_code=type(exc).__name__, error_message=str(exc)[:2000]
        )
        raise
    return _finish(run, started, status=PushRun.Status.SUCCEEDED, **outcome)


def _apply(run: PushRun) -> dict[str, int]:
    """Give (and take) what the push owes, in the caller's transaction; → the run's version and counts.

    A push once, and the first sync of a link, give the whole membership. Every later sync applies only what
    changed between the version the link last applied and the published one: members who entered are given the
    rule, and with remove departed those who left lose what this segment gave them. A customer whose ref was taken
    back by hand, and who never left, is not given it again; a version whose sync never ran is caught up by the
    next one. The link's row stays locked until the push commits, so two pushes of one link apply one at a time
    (the second finds nothing left to do).
    """
    link = None
    if run.mode == PushRun.Mode.SYNC:
        link = PushLink.objects.select_for_update().filter(segment=run.segment, rule=run.rule).first()
    since = link.last_version if link is not None else None
    # a push once onto a rule that follows this segment with a holdout keeps the held-out members out too
    holdout_link = link or PushLink.objects.filter(segment=run.segment, rule=run.rule, holdout_percent__gt=0).first()
    if since is None and (holdout_link is None or holdout_link.holdout_percent == 0):
        outcome = _apply_whole(run)
    else:
        outcome = _apply_diff(run, since=since, holdout_link=holdout_link)
    if link is not None:
        link.last_version = outcome["version"]
        link.save(update_fields=["last_version"])
    return outcome


def _apply_whole(run: PushRun) -> dict[str, int]:
    """Every member, nobody held out: the published version's members become refs inside PostgreSQL, in one
    statement (rule_members_give), instead of travelling to Python as ids and back. A publish between reading the
    version's size and giving deletes the version; the push then reads the new one."""
    source = given_by(run.segment)
    for _ in range(WHOLE_PUSH_ATTEMPTS):
        version, members = selectors.segment_published_size(segment=run.segment)
        if version is None:
            raise PushError("The segment has not been calculated yet.")
        done = rule_members_give(
            account=run.account,
            rule=run.rule,
            segment=run.segment,
            version=version,
            members=members,
            given_by=source,
            take_departed=run.remove_departed,
            actor=source,
        )
        if done.whole:
            return {
                "version": version,
                "added": done.given,
                "removed": done.taken,
                "skipped": members - done.given,
                "held_out": 0,
            }
    raise PushError("The segment was recalculated again and again while it was pushed; push again.")


def _apply_diff(run: PushRun, *, since: int | None, holdout_link: PushLink | None) -> dict[str, int]:
    """The changes since version `since` (None: every member) as customer ids, through the link's holdout."""
    diff = selectors.segment_membership_diff(segment=run.segment, since_version=since)
    if diff.version is None:
        raise PushError("The segment has not been calculated yet.")
    assigned = link_assign(link=holdout_link, customer_ids=diff.added) if holdout_link else None
    treatment = assigned.treatment if assigned else diff.added
    source = given_by(run.segment)
    # The service takes at most MAX_CUSTOMERS_PER_CALL ids per call (the API's limit); segments can be bigger.
    step = documents.MAX_CUSTOMERS_PER_CALL
    added = sum(
        rule_customers_give(
            account=run.account,
            rule=run.rule,
            customer_ids=treatment[start : start + step],
            offering_constraint_id=None,
            actor=source,
        )
        for start in range(0, len(treatment), step)
    )
    removed = 0
    if run.remove_departed and since is None:  # a whole push: whoever this segment gave it to and is not a member
        removed = rule_customers_take_departed(
            account=run.account, rule=run.rule, given_by=source, keep=diff.added, actor=source
        )
    elif run.remove_departed:
        removed = rule_customers_take_given(
            account=run.account, rule=run.rule, given_by=source, customer_ids=diff.removed, actor=source
        )
    return {
        "version": diff.version,
        "added": added,
        "removed": removed,
        "skipped": len(treatment) - added,
        "held_out": assigned.held_out if assigned else 0,
    }


def _finish(run: PushRun, started: float, **fields) -> PushRun:
    fields.update(finished_at=timezone.now(), duration_ms=int((time.monotonic() - started) * 1000))
    PushRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    return run


def segment_published(*, segment_id: int) -> list[PushRun]:
    """After a recalculation: every rule linked to the segment receives the new membership."""
    runs = []
    for link in PushLink.objects.filter(segment_id=segment_id).select_related("segment", "rule", "account"):
        if link.rule.deleted_at is not None:
            continue
        runs.append(
            _push_queue(
                account=link.account,
                segment=link.segment,
                rule=link.rule,
                mode=PushRun.Mode.SYNC,
                remove_departed=link.remove_departed,
                actor="sync",
            )
        )
    return runs


def pushes_sweep(*, now=None) -> dict[str, int]:
    """Catch up what a lost message or worker missed: links behind their segment's version, stuck and unsent runs."""
    now = now or timezone.now()
    stuck = PushRun.objects.filter(status=PushRun.Status.RUNNING, started_at__lt=now - STUCK_AFTER).update(
        status=PushRun.Status.FAILED, finished_at=now, error_code="stuck", error_message="The worker was lost."
    )
    resent = 0
    for run_id in PushRun.objects.filter(status=PushRun.Status.QUEUED, created_at__lt=now - RESEND_AFTER).values_list(
        "pk", flat=True
    )[:500]:
        _send(run_id)
        resent += 1
    behind = 0
    open_runs = PushRun.objects.filter(status__in=[PushRun.Status.QUEUED, PushRun.Status.RUNNING])
    for link in PushLink.objects.select_related("segment", "rule", "account").filter(
        segment__current_version__isnull=False
    ):
        if link.last_version == link.segment.current_version or link.rule.deleted_at is not None:
            continue
        if open_runs.filter(segment=link.segment, rule=link.rule).exists():
            continue
        _push_queue(
            account=link.account,
            segment=link.segment,
            rule=link.rule,
            mode=PushRun.Mode.SYNC,
            remove_departed=link.remove_departed,
            actor="sync",
        )
        behind += 1
    return {"stuck": stuck, "resent": resent, "behind": behind}


def segment_push_to_new_rule(
    *,
    account: Account,
    segment: Segment,
    document: dict,
    mode: str,
    remove_departed: bool,
    actor: str,
    holdout_percent: int | None = None,
) -> PushRun:
    """Create a rule and push the segment onto it, in one transaction: a rule the push cannot start for (an
    uncalculated segment pushed once) is not left behind. Raises DiscountValidationError or PushError."""
    with transaction.atomic():
        rule = rule_create(account=account, document=document, actor=actor)
        return segment_push_start(
            account=account,
            segment=segment,
            rule=rule,
            mode=mode,
            remove_departed=remove_departed,
            actor=actor,
            holdout_percent=holdout_percent,
        )
