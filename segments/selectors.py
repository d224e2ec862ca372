"""Reads of segments, their members and runs (always the published version)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet, Subquery
from django.http import Http404

from loyalty.accounts.models import Account
from receipts import selectors as receipts
from segments.models import Segment, SegmentMember, SegmentRun


def segments_for_account(*, account: Account) -> QuerySet[Segment]:
    return Segment.objects.filter(account=account)


def segment_get(*, account: Account, segment_id: str | uuid.UUID) -> Segment:
    try:
        key = uuid.UUID(str(segment_id))
    except ValueError as exc:
        raise Http404("No such segment.") from exc
    segment = Segment.objects.filter(account=account, uuid=key).select_related("account").first()
    if segment is None:
        raise Http404("No such segment.")
    return segment


def segment_members(*, segment: Segment) -> QuerySet:
    """The customers of the segment's published version (empty before a first successful run).

    The version is read in the same statement as the members, so a publish committing in between can never show
    a reader the half-deleted previous version.
    """
    customers = receipts.customers_for_account(account=segment.account)
    current = Segment.objects.filter(pk=segment.pk).values("current_version")[:1]
    member_ids = SegmentMember.objects.filter(segment=segment, version=Subquery(current)).values("customer")
    return customers.filter(id__in=member_ids)


def segment_runs(*, segment: Segment) -> QuerySet[SegmentRun]:
    return SegmentRun.objects.filter(segment=segment).order_by("-created_at")


def segment_run_get(*, segment: Segment, run_id: str) -> SegmentRun:
    try:
        key = uuid.UUID(str(run_id))
    except ValueError as exc:
        raise Http404("No such run.") from exc
    run = SegmentRun.objects.filter(segment=segment, pk=key).first()
    if run is None:
        raise Http404("No such run.")
    return run


def segment_open_run(*, segment: Segment) -> SegmentRun | None:
    return (
        SegmentRun.objects.filter(segment=segment, status__in=[SegmentRun.Status.QUEUED, SegmentRun.Status.RUNNING])
        .order_by("-created_at")
        .first()
    )


@dataclass(frozen=True)
class Page:
    items: list[Any]
    all: int
    filtered: int


def paginate(
    queryset: QuerySet, *, page: int, per_page: int, total_all: int, total_filtered: int | None = None
) -> Page:
    filtered = queryset.count() if total_filtered is None else total_filtered
    start = (page - 1) * per_page
    return Page(items=list(queryset[start : start + per_page]), all=total_all, filtered=filtered)


def segments_of_customer(*, account: Account, customer_pk: int) -> QuerySet[Segment]:
    """Segments whose published version includes the customer."""
    from django.db.models import Exists, OuterRef

    member = SegmentMember.objects.filter(
        segment=OuterRef("pk"), version=OuterRef("current_version"), customer_id=customer_pk
    )
    return Segment.objects.filter(account=account).filter(Exists(member))


def segment_member_ids(*, segment: Segment) -> tuple[int | None, list[str]]:
    """(published version, its members' customer ids), read in one statement: never a partial version."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.current_version, c.customer_id
            FROM segments_segment s
            LEFT JOIN segments_segmentmember m ON m.segment_id = s.id AND m.version = s.current_version
            LEFT JOIN receipts_customer c ON c.id = m.customer_pk
            WHERE s.id = %s
            """,
            [segment.pk],
        )
        rows = cursor.fetchall()
    if not rows or rows[0][0] is None:
        return None, []
    return rows[0][0], [customer_id for _, customer_id in rows if customer_id is not None]
