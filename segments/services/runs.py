"""Recalculation runs: queued in the caller's transaction, computed by a worker and published as a new membership
version atomically (segments.services.publish)."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from loyalty.core.ids import uuid7
from loyalty.core.jobs import enqueue_on_commit
from loyalty.core.sql import advisory_key, render
from receipts.readmodels import queries as receipts
from segments import engine
from segments import sql as statements
from segments.criteria.base import Context
from segments.models import Segment, SegmentRun
from segments.services.publish import Superseded, publish

logger = logging.getLogger(__name__)

RECALCULATE = "segments.recalculate"
STUCK_AFTER = timedelta(minutes=10)
REQUEUE_QUEUED_AFTER = timedelta(minutes=2)
MAX_ATTEMPTS = 3
# A read model the definition reads can be dropped between preparing and publishing (a receipt changing customer
# drops the windows it falls in): the run prepares again, this many times at most, and never publishes without it.
PREPARE_ATTEMPTS = 3
MAX_CONSECUTIVE_FAILURES = 3


class ReadModelsChanged(Exception):
    """The read models the definition reads kept being dropped between preparing and publishing."""


def _send(run_id: uuid.UUID) -> None:
    """Hand a queued run to the workers (by task name; a broker that is down leaves it to the sweep)."""
    enqueue_on_commit(RECALCULATE, args=[str(run_id)])


def run_enqueue(
    *,
    segment: Segment,
    trigger: str,
    actor: str = "",
    scope: str = SegmentRun.Scope.FULL,
    batches: tuple[int, int] | None = None,
) -> SegmentRun:
    """A queued run row in the caller's transaction; the task is sent after commit.

    One queued run per segment and definition: a new request folds into it (a full run covers an incremental one,
    incremental runs widen their batch range); queued runs of older definitions are superseded.
    """
    SegmentRun.objects.filter(
        segment=segment, status=SegmentRun.Status.QUEUED, definition_version__lt=segment.definition_version
    ).update(status=SegmentRun.Status.SUPERSEDED, finished_at=timezone.now())
    existing = (
        SegmentRun.objects.select_for_update()
        .filter(segment=segment, status=SegmentRun.Status.QUEUED, definition_version=segment.definition_version)
        .order_by("created_at")
        .first()
    )
    if existing is not None:
        _fold(existing, trigger=trigger, scope=scope, batches=batches)
        return existing
    run = SegmentRun.objects.create(
        id=uuid7(),
        segment=segment,
        definition_version=segment.definition_version,
        trigger=trigger,
        created_by=actor,
        scope=scope,
        batch_from=batches[0] if batches else None,
        batch_to=batches[1] if batches else None,
    )
    transaction.on_commit(lambda: _send(run.id))
    return run


def _fold(existing: SegmentRun, *, trigger: str, scope: str, batches: tuple[int, int] | None) -> None:
    if existing.scope != SegmentRun.Scope.INCREMENTAL:
        return
    if scope == SegmentRun.Scope.FULL:
        existing.scope, existing.trigger, existing.batch_from, existing.batch_to = scope, trigger, None, None
        existing.save(update_fields=["scope", "trigger", "batch_from", "batch_to"])
    elif batches:
        existing.batch_from = min(existing.batch_from or batches[0], batches[0])
        existing.batch_to = max(existing.batch_to or batches[1], batches[1])
        existing.save(update_fields=["batch_from", "batch_to"])


def _lock_key(segment_id: int) -> int:
    return advisory_key("segments.run", segment_id)


def _progress(run: SegmentRun, progress: int, **fields: Any) -> None:
    fields.update(progress=progress, heartbeat_at=timezone.now())
    SegmentRun.objects.filter(pk=run.pk).update(**fields)


def segment_recalculate(*, run_id: str | uuid.UUID, now: datetime | None = None) -> SegmentRun | None:
    """Compute the run's segment and publish it as a new version, or write nothing (superseded / failed).

    A session-level advisory lock keeps one run per segment at a time; if the worker dies, PostgreSQL releases it.
    """
    run = SegmentRun.objects.select_related("segment", "segment__account").filter(pk=run_id).first()
    if run is None or not run.is_open:
        return run
    key = _lock_key(run.segment.pk)
    with connection.cursor() as cursor:
        cursor.execute(render(statements.TRY_LOCK), [key])
        if not cursor.fetchone()[0]:
            # another run of this segment is in progress; this one stays queued and is handed over again later
            return run
    try:
        return _recalculate_locked(run, now)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(render(statements.UNLOCK), [key])


def _recalculate_locked(run: SegmentRun, now: datetime | None) -> SegmentRun:
    run.refresh_from_db()
    segment = Segment.objects.select_related("account").get(pk=run.segment_id)
    if not run.is_open:
        return run
    if segment.definition_version != run.definition_version:
        return _finish(run, SegmentRun.Status.SUPERSEDED)
    started = time.monotonic()
    _progress(run, 5, status=SegmentRun.Status.RUNNING, started_at=timezone.now(), attempts=run.attempts + 1)
    try:
        result = _compute(run, segment, now or timezone.now())
    except Superseded:
        return _finish(run, SegmentRun.Status.SUPERSEDED)
    except (OperationalError, InterfaceError) as exc:
        _database_failed(run, exc)
        raise
    except Exception as exc:
        logger.exception("segment run %s failed", run.pk)
        _finish(run, SegmentRun.Status.FAILED, error_code=type(exc).__name__, error_message=str(exc)[:2000])
        segment_failure_record(segment_id=segment.pk, message=f"{type(exc).__name__}: {exc}"[:500])
        raise
    result.duration_ms = int((time.monotonic() - started) * 1000)
    SegmentRun.objects.filter(pk=run.pk).update(duration_ms=result.duration_ms)
    return result


@dataclass
class Compiled:
    queryset: QuerySet
    ctx: Context
    affected: list[int] | None
    timings: dict[str, int] = field(default_factory=dict)


def _compute(run: SegmentRun, segment: Segment, now: datetime) -> SegmentRun:
    """Prepare the read models (outside any transaction), compile, and publish; prepared again when one of them was
    dropped before the publishing transaction could see it."""
    for _ in range(PREPARE_ATTEMPTS):
        compiled = _compile(run, segment, now)
        _progress(run, 30)
        published = publish(
            run, segment, compiled.queryset, compiled.ctx, now, compiled.timings, affected=compiled.affected
        )
        if published is not None:
            return published
    raise ReadModelsChanged("the purchase windows or code buyers of the definition kept being dropped")


def _compile(run: SegmentRun, segment: Segment, now: datetime) -> Compiled:
    parts = segment.definition.get("parts", [])
    tick = time.monotonic()
    preparation = engine.definition_prepare(account=segment.account, parts=parts, now=now)
    ctx = engine.compile_context(preparation, account=segment.account)
    queryset = engine.matching_customers(account=segment.account, parts=parts, ctx=ctx)
    timings = {"compile_ms": int((time.monotonic() - tick) * 1000)}
    affected = None
    if run.scope == SegmentRun.Scope.INCREMENTAL and segment.current_version is not None:
        assert run.batch_from is not None and run.batch_to is not None
        affected = receipts.ingest_batch_customers(
            account=segment.account, batch_from=run.batch_from, batch_to=run.batch_to
        )
        queryset = queryset.filter(id__in=affected)
    return Compiled(queryset=queryset, ctx=ctx, affected=affected, timings=timings)


def _database_failed(run: SegmentRun, exc: Exception) -> None:
    """The database hiccuped: the task retries; the run goes back to the queue unless it is out of attempts."""
    status = SegmentRun.Status.FAILED if run.attempts + 1 >= MAX_ATTEMPTS else SegmentRun.Status.QUEUED
    SegmentRun.objects.filter(pk=run.pk).update(
        status=status, progress=0, error_code="database_unavailable", error_message=str(exc)[:2000]
    )


def segment_failure_record(*, segment_id: int, message: str) -> None:
    """The error budget: after MAX_CONSECUTIVE_FAILURES failed runs in a row the segment is paused and flagged
    (schedules and new receipts leave it alone) until someone retries it."""
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment_id)
        segment.consecutive_failures += 1
        fields = ["consecutive_failures"]
        if segment.consecutive_failures >= MAX_CONSECUTIVE_FAILURES and segment.paused_at is None:
            segment.paused_at = timezone.now()
            segment.pause_reason = (
                f"Paused after {segment.consecutive_failures} failed runs in a row. Last error: {message}"
            )
            fields += ["paused_at", "pause_reason"]
        segment.save(update_fields=fields)


def _finish(run: SegmentRun, status: str, **fields: Any) -> SegmentRun:
    finished = timezone.now()
    duration = int((finished - run.started_at).total_seconds() * 1000) if run.started_at else None
    SegmentRun.objects.filter(pk=run.pk).update(status=status, finished_at=finished, duration_ms=duration, **fields)
    run.refresh_from_db()
    return run


def runs_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Recover work the broker or a worker lost: running runs without a heartbeat for 10 minutes fail and are
    re-queued (up to MAX_ATTEMPTS); queued runs nobody picked up are handed to Celery again."""
    now = now or timezone.now()
    stuck = list(
        SegmentRun.objects.filter(status=SegmentRun.Status.RUNNING, heartbeat_at__lt=now - STUCK_AFTER).select_related(
            "segment"
        )
    )
    requeued = sum(_fail_stuck(run, now) for run in stuck)
    waiting = list(
        SegmentRun.objects.filter(
            status=SegmentRun.Status.QUEUED, created_at__lt=now - REQUEUE_QUEUED_AFTER
        ).values_list("pk", flat=True)[:1000]
    )
    for run_id in waiting:
        _send(run_id)
    return {"failed": len(stuck), "requeued": requeued, "resent": len(waiting)}


def _fail_stuck(run: SegmentRun, now: datetime) -> bool:
    """Fail a run whose worker was lost; queue a retry while it has attempts left. Whether it was re-queued."""
    with transaction.atomic():
        changed = SegmentRun.objects.filter(pk=run.pk, status=SegmentRun.Status.RUNNING).update(
            status=SegmentRun.Status.FAILED,
            finished_at=now,
            error_code="stuck",
            error_message=f"No heartbeat for {int(STUCK_AFTER.total_seconds() // 60)} minutes: the worker was lost.",
        )
        if changed and run.attempts < MAX_ATTEMPTS:
            run_enqueue(segment=run.segment, trigger=SegmentRun.Trigger.RETRY, actor="sweeper")
            return True
    return False
