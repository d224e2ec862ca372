"""Publishing a computed segment: the new membership version, the ledger of who entered and left, the stats and
the flip to the new version, all in one REPEATABLE READ transaction (one snapshot for members, stats and watermark).

`publish` is the orchestrator; each step below is one statement or one decision.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from loyalty.core.jobs import enqueue_on_commit
from loyalty.core.sql import render
from receipts.readmodels import queries as receipts
from segments import engine
from segments import sql as statements
from segments.criteria.base import CURRENCY_EXPONENTS, Context
from segments.models import MembershipSpan, Segment, SegmentRun

REASONS: dict[str, str] = {
    SegmentRun.Trigger.CREATED: MembershipSpan.Reason.DEFINITION,
    SegmentRun.Trigger.UPDATED: MembershipSpan.Reason.DEFINITION,
    SegmentRun.Trigger.ACTIVATED: MembershipSpan.Reason.DEFINITION,
    SegmentRun.Trigger.MANUAL: MembershipSpan.Reason.MANUAL,
    SegmentRun.Trigger.RETRY: MembershipSpan.Reason.MANUAL,
    SegmentRun.Trigger.SCHEDULED: MembershipSpan.Reason.TIME_WINDOW,
    SegmentRun.Trigger.NEW_RECEIPTS: MembershipSpan.Reason.NEW_RECEIPTS,
}
SEGMENT_PUBLISHED = "discounts.segment_published"

Stats = tuple[int, int, int]  # members, net spend, purchases


class Superseded(Exception):
    """The segment's definition changed since the run was queued: the run writes nothing (never reaches a view)."""


@dataclass
class Publication:
    """What the steps of one publish share."""

    run: SegmentRun
    segment: Segment
    cursor: Any
    now: datetime
    timings: dict[str, int]
    affected: list[int] | None  # an incremental run: only these customers are re-evaluated
    current: int | None = None  # the published version before this run
    version: int = 0
    stats: Stats | None = None
    added: int = 0
    removed: int = 0
    lists: list[dict[str, Any]] = field(default_factory=list)
    ticks: dict[str, float] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return self.affected is None

    def timed(self, name: str) -> None:
        """Close the phase that started at the last mark and start the next one."""
        now = time.monotonic()
        if "mark" in self.ticks:
            self.timings[name] = int((now - self.ticks["mark"]) * 1000)
        self.ticks["mark"] = now


def publish(
    run: SegmentRun,
    segment: Segment,
    queryset: QuerySet,
    ctx: Context,
    now: datetime,
    timings: dict[str, int],
    *,
    affected: list[int] | None,
) -> SegmentRun | None:
    """Write the new version and flip to it in one transaction; None (nothing written) when a read model the
    compiled definition reads was dropped since it was prepared: the caller prepares and compiles again.

    A full run computes its members into a temporary table first, so its stats come from the rows it computes and
    a run that finds exactly the current members writes no new version (an unchanged version number keeps meaning
    "the same members" for pushes). An incremental run copies the current version without the affected customers
    and adds those of them who match."""
    with transaction.atomic(), connection.cursor() as cursor:
        step = Publication(run=run, segment=segment, cursor=cursor, now=now, timings=timings, affected=affected)
        _snapshot(step)
        if not engine.read_models_intact(ctx):
            return None
        step.timed("")
        if step.full:
            _compute_full(step, queryset)
        else:
            _compute_incremental(step, queryset)
        step.timed("compute_ms")
        _ledger(step)
        _lists(step)
        _write_version(step)
        _flip(step)
        step.timed("publish_ms")
        _record(step)
    run.refresh_from_db()
    return run


def _snapshot(step: Publication) -> None:
    """One snapshot for the members, the stats and the watermark; the run must still be of the current definition."""
    step.cursor.execute(render(statements.REPEATABLE_READ))
    step.cursor.execute(render(statements.SEGMENT_VERSIONS), [step.segment.pk])
    step.current, definition_version = step.cursor.fetchone()
    if definition_version != step.run.definition_version:
        raise Superseded
    step.version = (step.current or 0) + 1


def _compute_full(step: Publication, queryset: QuerySet) -> None:
    step.cursor.execute(render(statements.FRESH_CREATE))
    compiled = engine.sql_of(queryset.values("id", "net_total", "purchases"))
    step.stats = (0, 0, 0)
    if compiled is not None:
        sql, params = compiled
        step.cursor.execute(render(statements.fresh_fill(sql)), params)
        step.stats = step.cursor.fetchone()


def _compute_incremental(step: Publication, queryset: QuerySet) -> None:
    step.cursor.execute(
        render(statements.MEMBERS_KEEP_UNAFFECTED), [step.version, step.segment.pk, step.current, step.affected]
    )
    compiled = engine.sql_of(queryset.values("id"))
    if compiled is not None:
        sql, params = compiled
        step.cursor.execute(render(statements.members_insert(sql)), [step.segment.pk, step.version, *params])


def _ledger(step: Publication) -> None:
    reason = REASONS.get(step.run.trigger, MembershipSpan.Reason.MANUAL)
    step.cursor.execute(
        render(statements.ledger(from_fresh_table=step.full)),
        {
            "s": step.segment.pk,
            "new": step.version,
            "old": step.current or 0,
            "now": step.now,
            "run": step.run.pk,
            "reason": reason,
        },
    )
    step.added, step.removed = step.cursor.fetchone()


def _lists(step: Publication) -> None:
    """What the customer lists matched in the snapshot the members were computed from (reported with the run)."""
    parts = step.segment.definition.get("parts", [])
    step.lists = engine.lists_report(account=step.segment.account, parts=parts)


def _write_version(step: Publication) -> None:
    """A full run writes its members as the new version, unless they are exactly the current ones; an incremental
    run's version is written already, and its stats are counted over all its rows."""
    if step.full:
        if step.current is not None and not step.added and not step.removed:
            step.version = step.current
        else:
            step.cursor.execute(render(statements.MEMBERS_FROM_FRESH), [step.segment.pk, step.version])
    if step.stats is None:
        step.cursor.execute(render(statements.VERSION_STATS), [step.segment.pk, step.version])
        step.stats = step.cursor.fetchone()


def _watermark(step: Publication) -> tuple[int, datetime] | None:
    """The newest receipt batch this version includes; never older than the one published before."""
    segment = step.segment
    watermark = receipts.ingest_watermark(account=segment.account, up_to=None if step.full else step.run.batch_to)
    if watermark and segment.watermark_batch and watermark[0] < segment.watermark_batch:
        assert segment.watermark is not None
        return segment.watermark_batch, segment.watermark
    return watermark


def _drift(step: Publication) -> int | None:
    """A full run after incremental ones checks them: with the same clock, it must agree on everyone."""
    if not step.full or step.current is None:
        return None
    previous = (
        SegmentRun.objects.filter(segment=step.segment, status=SegmentRun.Status.SUCCEEDED)
        .order_by("-finished_at")
        .first()
    )
    if previous is not None and previous.scope == SegmentRun.Scope.INCREMENTAL:
        return step.added + step.removed
    return None


def _major(value: int | Decimal, divisor: int | Decimal, exponent: int) -> Decimal:
    if not divisor:
        return Decimal(0)
    return (Decimal(value) / Decimal(divisor) / (10**exponent)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _flip(step: Publication) -> None:
    """Drop the older versions and point the segment at the new one, with its stats and watermark."""
    assert step.stats is not None
    members, spend, purchases = step.stats
    segment = step.segment
    watermark = _watermark(step)
    exponent = CURRENCY_EXPONENTS.get(segment.account.currency, 2)
    step.cursor.execute(render(statements.OLDER_VERSIONS_DELETE), [segment.pk, step.version])
    Segment.objects.filter(pk=segment.pk).update(
        current_version=step.version,
        customers_count=members,
        average_transaction_amount=_major(spend, purchases, exponent),
        average_transactions=(Decimal(purchases) / members).quantize(Decimal("0.01")) if members else 0,
        average_clv=_major(spend, members, exponent),
        calculated_at=timezone.now(),
        watermark=watermark[1] if watermark else None,
        watermark_batch=watermark[0] if watermark else None,
        consecutive_failures=0,
    )


def _record(step: Publication) -> None:
    """The run succeeded; rules kept in sync with the segment follow the new version (the discounts app listens by
    task name; its sweep catches up when the broker is down)."""
    assert step.stats is not None
    SegmentRun.objects.filter(pk=step.run.pk).update(
        status=SegmentRun.Status.SUCCEEDED,
        progress=100,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        version=step.version,
        members=step.stats[0],
        added=step.added,
        removed=step.removed,
        timings=step.timings,
        lists=step.lists,
        drift=_drift(step),
    )
    enqueue_on_commit(SEGMENT_PUBLISHED, args=[step.segment.pk])
