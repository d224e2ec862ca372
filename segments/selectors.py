"""Reads of segments, their members and runs (always the published version)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from loyalty.accounts.models import Account
from loyalty.core.errors import NotFound
from loyalty.core.sql import render
from receipts import selectors as receipt_selectors
from receipts.readmodels import queries as receipts
from segments import engine
from segments import sql as statements
from segments.criteria import validate_parts_each
from segments.engine import Preparation
from segments.models import MembershipSpan, Segment, SegmentMember, SegmentRun


def segments_for_account(*, account: Account) -> QuerySet[Segment]:
    return Segment.objects.filter(account=account)


class SegmentNotFound(NotFound):
    """No such segment (or run) in this account."""


def segment_get(*, account: Account, segment_id: str | uuid.UUID) -> Segment:
    try:
        key = uuid.UUID(str(segment_id))
    except ValueError as exc:
        raise SegmentNotFound() from exc
    segment = Segment.objects.filter(account=account, uuid=key).select_related("account").first()
    if segment is None:
        raise SegmentNotFound()
    return segment


# From this many members on, a segment's members are read by walking the account's customers in the order asked
# for and probing each one's membership (a page of 25 reads a few dozen customers when most customers are members);
# below it, by joining its members and sorting them. The choice is ours, not the planner's: it would follow
# statistics a just-published version does not have yet, and join and sort a large segment's members for one page.
WALK_CUSTOMERS_FROM = 5_000


def segment_members(*, segment: Segment) -> QuerySet:
    """The customers of the segment's published version (empty before a first successful run).

    The version is read in the same statement as the members, so a publish committing in between can never show
    a reader the half-deleted previous version.
    """
    customers = receipts.customers_for_account(account=segment.account)
    current = Segment.objects.filter(pk=segment.pk).values("current_version")[:1]
    if segment.customers_count >= WALK_CUSTOMERS_FROM:
        member = SegmentMember.objects.filter(segment=segment, version=Subquery(current), customer=OuterRef("pk"))
        # a scalar subquery is always probed row by row: as EXISTS or IN, the planner hashed all members first, or
        # joined and sorted them
        return customers.alias(member=Subquery(member.values("version")[:1])).filter(member__isnull=False)
    member_ids = SegmentMember.objects.filter(segment=segment, version=Subquery(current)).values("customer")
    return customers.filter(id__in=member_ids)


def segment_runs(*, segment: Segment) -> QuerySet[SegmentRun]:
    return SegmentRun.objects.filter(segment=segment).order_by("-created_at")


def segment_run_get(*, segment: Segment, run_id: str) -> SegmentRun:
    try:
        key = uuid.UUID(str(run_id))
    except ValueError as exc:
        raise SegmentNotFound() from exc
    run = SegmentRun.objects.filter(segment=segment, pk=key).first()
    if run is None:
        raise SegmentNotFound()
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
    member = SegmentMember.objects.filter(
        segment=OuterRef("pk"), version=OuterRef("current_version"), customer_id=customer_pk
    )
    return Segment.objects.filter(account=account).filter(Exists(member))


def segment_member_ids(*, segment: Segment) -> tuple[int | None, list[str]]:
    """(published version, its members' customer ids), read in one statement: never a partial version."""
    with connection.cursor() as cursor:
        cursor.execute(render(statements.MEMBER_IDS), [segment.pk])
        rows = cursor.fetchall()
    if not rows or rows[0][0] is None:
        return None, []
    return rows[0][0], [customer_id for _, customer_id in rows if customer_id is not None]


# --- membership history (the ledger) ------------------------------------------------------------------------------


class CustomerNotFound(NotFound):
    """No such customer in this account."""

    def __init__(self, message: str = "No such customer.", **kwargs: object) -> None:
        super().__init__(message, **kwargs)


def customer_memberships(*, account: Account, customer_id: str, current: bool = False) -> QuerySet[MembershipSpan]:
    """A customer's segment memberships (the ledger's spans), newest entry first; only the open ones with
    `current`. Raises CustomerNotFound for a customer id the account does not have."""
    customer = receipt_selectors.customer_find(account=account, customer_id=customer_id)
    if customer is None:
        raise CustomerNotFound()
    return customer_memberships_by_pk(account=account, customer_pk=customer.pk, current=current)


def customer_memberships_by_pk(
    *, account: Account, customer_pk: int, current: bool = False
) -> QuerySet[MembershipSpan]:
    spans = MembershipSpan.objects.filter(customer_id=customer_pk, segment__account=account)
    if current:
        spans = spans.filter(left_at__isnull=True)
    return spans.select_related("segment").order_by("-entered_at", "-id")


def customer_memberships_count(*, account: Account, customer_id: str) -> int:
    """Every span of the customer, open or closed (the list's `total.all`)."""
    return MembershipSpan.objects.filter(
        customer__customer_id=customer_id, customer__account=account, segment__account=account
    ).count()


SEGMENT_EVENTS = 20


@dataclass(frozen=True)
class MembershipEvent:
    """One entry into or exit from a segment, for the segment page."""

    at: Any
    entered: bool
    reason: str
    customer_pk: int
    customer_id: str


def segment_membership_events(*, segment: Segment, limit: int = SEGMENT_EVENTS) -> list[MembershipEvent]:
    """The latest entries and exits of a segment, newest first: the latest `limit` of each, merged and cut to
    `limit` (two index-bounded reads, never the whole ledger)."""
    spans = MembershipSpan.objects.filter(segment=segment).select_related("customer")
    entered = spans.order_by("-entered_at", "-id")[:limit]
    left = spans.filter(left_at__isnull=False).order_by("-left_at", "-id")[:limit]
    events = [
        MembershipEvent(s.entered_at, True, s.entered_reason, s.customer_id, s.customer.customer_id) for s in entered
    ] + [MembershipEvent(s.left_at, False, s.left_reason, s.customer_id, s.customer.customer_id) for s in left]
    events.sort(key=lambda event: event.at, reverse=True)
    return events[:limit]


# --- back-office pages ---------------------------------------------------------------------------------------------


def segments_overview(*, account: Account, limit: int | None = None, active_only: bool = True) -> list[Segment]:
    queryset = Segment.objects.filter(account=account).select_related("account").order_by("name", "id")
    if active_only:
        queryset = queryset.filter(active=True)
    return list(queryset[:limit] if limit else queryset)


# the segments list's orders; nulls (never calculated) last either way
SEGMENT_ORDERS = {
    "name": ("name", "id"),
    "largest": ("-customers_count", "name", "id"),
    "smallest": ("customers_count", "name", "id"),
    "recent": (F("calculated_at").desc(nulls_last=True), "name", "id"),
    "oldest": (F("calculated_at").asc(nulls_last=True), "name", "id"),
}
SEGMENT_STATES = ("active", "inactive", "paused")


def segments_list(
    *, account: Account, search: str | None = None, state: str | None = None, order: str = "name", limit: int = 500
) -> list[Segment]:
    """The segments page: one account's segments (an account has tens to hundreds: read through the account's
    index and sorted in the statement, never counted), found by a part of the name or description, in one state."""
    queryset = Segment.objects.filter(account=account).select_related("account")
    if search:
        queryset = queryset.filter(Q(name__icontains=search) | Q(description__icontains=search))
    if state == "active":
        queryset = queryset.filter(active=True, paused_at__isnull=True)
    elif state == "inactive":
        queryset = queryset.filter(active=False)
    elif state == "paused":
        queryset = queryset.filter(paused_at__isnull=False)
    return list(queryset.order_by(*SEGMENT_ORDERS.get(order, SEGMENT_ORDERS["name"]))[:limit])


RECENT_RUNS_DAYS = 7


def runs_recent(*, account: Account, limit: int, failed: bool = False) -> list[SegmentRun]:
    """The account's latest runs of the last week: incremental runs pile up by the thousand, and the bound keeps
    this from sorting a segment's whole history."""
    since = timezone.now() - timedelta(days=RECENT_RUNS_DAYS)
    queryset = SegmentRun.objects.filter(segment__account=account, created_at__gte=since).select_related("segment")
    if failed:
        queryset = queryset.filter(status=SegmentRun.Status.FAILED)
    return list(queryset.order_by("-created_at")[:limit])


def segment_size_history(*, segment: Segment, limit: int = 60) -> list[SegmentRun]:
    """Published runs, oldest first: the size-over-time chart."""
    runs = SegmentRun.objects.filter(segment=segment, status=SegmentRun.Status.SUCCEEDED, members__isnull=False)
    # newest first along the (segment, -created_at) index, then turned around for the chart
    return list(reversed(runs.order_by("-created_at")[:limit]))


def segment_members_page(
    *,
    segment: Segment,
    search: str | None,
    limit: int,
    after: str | None,
    search_personal_data: bool = True,
    within: QuerySet | None = None,
) -> tuple[list, bool]:
    """Members ordered by customer id, keyset-paged on it; search by id, e-mail, phone or name (by id only without
    `search_personal_data`: who may not see e-mails must not learn from a search whose e-mail is a member's).
    `within` (customer pks, e.g. the members a discount link holds out) narrows the list further."""
    members = segment_members(segment=segment)
    if within is not None:
        members = members.filter(pk__in=within)
    if search:
        members = members.filter(
            receipts.customer_search_q(search.strip(), personal_data=search_personal_data, names=True)
        )
    if after:
        members = members.filter(customer_id__gt=after)
    rows = list(members.order_by("customer_id")[: limit + 1])
    return rows[:limit], len(rows) > limit


def segment_members_stream(
    *, segment: Segment, chunk: int = 2000, extra: dict[str, Any] | None = None
) -> Iterator[tuple]:
    """Every member of the published version in customer id order, as one statement read through a server-side
    cursor: the export is one consistent version even if a recalculation publishes meanwhile. `extra` adds
    columns (name → expression over the customer row, e.g. the discount links holding the member out)."""
    members = segment_members(segment=segment).order_by("customer_id")
    if extra:
        members = members.annotate(**extra)
    return members.values_list("customer_id", "first_name", "last_name", "email", "phone", *(extra or {})).iterator(
        chunk_size=chunk
    )


EXPORT_COLUMNS = (
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "member_since",
    "purchases",
    "net_total",
    "gross_total",
)


def segment_members_export(
    *, segment: Segment, chunk: int = 2000, extra: dict[str, Any] | None = None
) -> Iterator[tuple]:
    """segment_members_stream with when each member entered (their open span in the ledger: one probe of its
    index per member) and their lifetime purchases and spend; in EXPORT_COLUMNS order, then the `extra` columns."""
    since = MembershipSpan.objects.filter(segment=segment, customer=OuterRef("pk"), left_at__isnull=True)
    members = segment_members(segment=segment).annotate(
        member_since=Subquery(since.order_by("-entered_at").values("entered_at")[:1])
    )
    if extra:
        members = members.annotate(**extra)
    return members.order_by("customer_id").values_list(*EXPORT_COLUMNS, *(extra or {})).iterator(chunk_size=chunk)


def definition_preview(*, account: Account, parts: Any, preparation: Preparation) -> dict[str, Any]:
    """The builder's live preview: each part is validated and counted on its own, so the valid parts show their
    count while another part is still being filled in; the total needs every part valid. The read models the valid
    parts read were built first (segments.services.preview.preview_prepare, with the same parts).

    → {"customersCount": int | None, "parts": [{"customersCount": int | None}], "errors": [(path, message)]}
    """
    valid, errors = validate_parts_each(parts)
    if not isinstance(parts, list):
        return {"customersCount": None, "parts": [], "errors": errors}
    usable = [p for p in valid if p is not None]
    result: dict[str, Any] = {"customersCount": 0, "parts": []}
    if usable:
        result = engine.preview(account=account, parts=usable, preparation=preparation)
    counts = iter(p["customersCount"] for p in result["parts"])
    return {
        "customersCount": result["customersCount"] if len(usable) == len(parts) and parts else None,
        "parts": [{"customersCount": next(counts) if p is not None else None} for p in valid],
        "errors": errors,
    }
