"""Keeping segments fresh by themselves: schedules, incremental runs when receipts arrive, and honest freshness."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from loyalty.accounts.models import Account
from receipts.readmodels import queries as receipts
from segments import policy as policies
from segments.criteria import ALIASES, CLOCK_TYPES, PERIOD_FIELDS
from segments.models import IngestCursor, Segment, SegmentRun
from segments.services.runs import run_enqueue

logger = logging.getLogger(__name__)

# From the criteria's declarations: whose answer moves with the clock (relative windows, ages, anniversaries), and
# which count purchases inside a fixed period only (receipts outside it change nothing). Customer lists are not
# immune: a batch can bring a listed customer's first receipt, or the e-mail or phone a list names.
CLOCK_CRITERIA = CLOCK_TYPES
PERIOD_CRITERIA = PERIOD_FIELDS


def _criteria(segment: Segment) -> list[dict[str, Any]]:
    return [c for part in segment.definition.get("parts", []) for c in part["criteria"]]


def _kind(criterion: dict[str, Any]) -> str:
    return ALIASES.get(criterion["type"], criterion["type"])


def moves_with_the_clock(segment: Segment) -> bool:
    return any(_kind(c) in CLOCK_CRITERIA for c in _criteria(segment))


def _period_end(criterion: dict[str, Any], fields: tuple[str, str], tz: ZoneInfo) -> datetime | None:
    end = criterion.get(fields[1])
    if not isinstance(end, str):
        return None
    try:
        parsed = datetime.fromisoformat(end)
    except ValueError:
        return None
    if len(end) == 10:  # a date: the whole day
        return datetime.combine(parsed.date() + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return parsed


def affected_by(segment: Segment, purchase_from: datetime | None) -> bool:
    """Can receipts bought from `purchase_from` on change this segment? Only periods that ended before them are
    immune; everything else reads receipts, the profile they carry, or (customer lists) which customers exist."""
    tz = ZoneInfo(segment.account.timezone)
    for criterion in _criteria(segment):
        kind = _kind(criterion)
        if kind in PERIOD_CRITERIA and purchase_from is not None:
            end = _period_end(criterion, PERIOD_CRITERIA[kind], tz)
            if end is not None and end <= purchase_from:
                continue
        return True
    return False


def segment_schedule(*, segment: Segment, now: datetime | None = None) -> None:
    """Set when the schedule next wants a full run (none for manual or receipts-only policies)."""
    now = now or timezone.now()
    segment.next_due_at = policies.next_due(segment.refresh_policy or {}, after=now, timezone=segment.account.timezone)


def schedule_tick(*, now: datetime | None = None) -> int:
    """The beat task's work: every due segment gets a full run, oldest-due first but interleaved across accounts,
    so one account's hundreds of segments never make another's wait. No quota per tick: everything due is queued."""
    now = now or timezone.now()
    due = list(
        Segment.objects.filter(active=True, paused_at__isnull=True, next_due_at__lte=now)
        .select_related("account")
        .order_by("next_due_at", "id")
    )
    by_account: dict[int, list[Segment]] = defaultdict(list)
    for segment in due:
        by_account[segment.account_id].append(segment)
    fair: list[Segment] = []
    queues = sorted(by_account.values(), key=lambda segments: segments[0].next_due_at or now)
    while queues:
        queues = [q for q in queues if q]
        for queue in queues:
            fair.append(queue.pop(0))
        queues = [q for q in queues if q]
    for segment in fair:
        with transaction.atomic():
            locked = Segment.objects.select_for_update().select_related("account").get(pk=segment.pk)
            if (
                not locked.active
                or locked.paused_at is not None
                or locked.next_due_at is None
                or locked.next_due_at > now
            ):
                continue
            run_enqueue(segment=locked, trigger=SegmentRun.Trigger.SCHEDULED, actor="scheduler")
            segment_schedule(segment=locked, now=now)
            locked.save(update_fields=["next_due_at"])
    return len(fair)


def receipts_arrived(*, account_id: int) -> int:
    """Turn new receipt batches of an account into incremental runs of the segments they can affect.

    The batches are the receipts' own outbox rows, written in their transaction; a cursor per account records how
    far we got, advanced in the same transaction as the runs, so nothing is lost or done twice.
    """
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        return 0
    with transaction.atomic():
        cursor, _ = IngestCursor.objects.select_for_update().get_or_create(account=account)
        batches = list(
            receipts.ingest_batches_after(account=account, after_id=cursor.last_batch).values_list(
                "id", "purchase_from", "stored"
            )
        )
        if not batches:
            return 0
        first, last = batches[0][0], batches[-1][0]
        stored = [b for b in batches if b[2]]
        queued = 0
        if stored:
            earliest = min(b[1] for b in stored if b[1] is not None) if any(b[1] for b in stored) else None
            segments = Segment.objects.filter(account=account, active=True, paused_at__isnull=True).select_related(
                "account"
            )
            for segment in segments:
                if not (segment.refresh_policy or {}).get("onNewReceipts") or not affected_by(segment, earliest):
                    continue
                run_enqueue(
                    segment=segment,
                    trigger=SegmentRun.Trigger.NEW_RECEIPTS,
                    actor="receipts",
                    scope=SegmentRun.Scope.INCREMENTAL,
                    batches=(first, last),
                )
                queued += 1
        cursor.last_batch = last
        cursor.updated_at = timezone.now()
        cursor.save(update_fields=["last_batch", "updated_at"])
    return queued


def receipts_sweep() -> int:
    """Catch up accounts whose receipt batches no task picked up (the broker was down, a worker died)."""
    cursors = dict(IngestCursor.objects.values_list("account_id", "last_batch"))
    behind = [
        account_id
        for account_id, newest in receipts.newest_batch_per_account().items()
        if newest > cursors.get(account_id, 0)
    ]
    return sum(receipts_arrived(account_id=account_id) for account_id in behind)


@dataclass(frozen=True)
class Freshness:
    fresh_as_of: datetime | None  # when the newest receipts the published version includes were stored
    stale: bool
    reasons: list[str]


def segment_freshness(*, segment: Segment, now: datetime | None = None) -> Freshness:
    """Honest freshness: from the data watermark, never from when a job was queued."""
    now = now or timezone.now()
    paused = ["paused after repeated failures"] if segment.paused_at is not None else []
    if segment.calculated_at is None:
        return Freshness(None, True, ["not calculated yet", *paused])
    reasons = []
    newest = receipts.ingest_watermark(account=segment.account)
    if newest is not None and (segment.watermark_batch is None or newest[0] > segment.watermark_batch):
        reasons.append("newer receipts exist")
    tz = ZoneInfo(segment.account.timezone)
    if moves_with_the_clock(segment) and segment.calculated_at.astimezone(tz).date() < now.astimezone(tz).date():
        reasons.append("a day has passed since its time windows were evaluated")
    reasons += paused
    return Freshness(segment.watermark or segment.calculated_at, bool(reasons), reasons)
