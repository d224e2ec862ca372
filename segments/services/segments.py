"""Creating, changing, activating and deleting segments. Every change that needs a recalculation enqueues a run
in the same transaction (the task is sent after commit) and returns at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7
from loyalty.core.services import audit_record
from loyalty.core.sql import render
from segments import engine
from segments import sql as statements
from segments.criteria import validate_definition
from segments.criteria.base import CriterionError
from segments.models import Segment, SegmentRun
from segments.policy import DEFAULT_POLICY, PolicyError, validate_policy
from segments.services.freshness import segment_schedule
from segments.services.runs import run_enqueue

PRIVATE = ("_customerPks",)

# The audit log's names for segment operations (the back-office pages' URL names, which named them first).
AUDIT_CREATE = "web:segment-new"
AUDIT_UPDATE = "web:segment-edit"
AUDIT_SET_ACTIVE = "web:segment-active"
AUDIT_REFRESH = "web:segment-refresh"
AUDIT_DELETE = "web:segment-delete"


def _audit(segment: Segment, *, actor: str, action: str, summary: str) -> None:
    """Who changed which segment, in the transaction of the change (pages, API and admin alike)."""
    audit_record(
        account=segment.account,
        actor=actor,
        action=action,
        object_type=Segment._meta.label,
        object_id=str(segment.uuid),
        summary=summary,
    )


@dataclass(frozen=True)
class SegmentInput:
    name: str
    description: str
    active: bool
    parts: list[dict[str, Any]]
    refresh_policy: dict[str, Any] | None  # None: not given (keep the current one, or the default when new)


def segment_input(data: Any, *, current: Segment | None = None) -> SegmentInput:
    """Validate Open Loyalty's CreateSegmentFormType / EditSegmentFormType; raises CriterionError with paths.

    On an update (`current` given) `active`, `description`, `parts` and `refreshPolicy` that are not given keep the
    segment's values: a PUT that only renames must not re-activate, clear or redefine anything."""
    errors: list[tuple[str, str, str]] = []
    if not isinstance(data, dict):
        raise CriterionError([("segment", "This value should be an object.", "invalid")])
    name = _name(data, errors)
    description = _description(data, errors) if current is None or "description" in data else current.description
    active = data.get("active", True if current is None else current.active)
    if not isinstance(active, bool):
        errors.append(("active", "This value should be true or false.", "invalid"))
    partial_parts = None if current is None else current.definition.get("parts", [])
    parts: list[dict[str, Any]] = partial_parts if partial_parts is not None and "parts" not in data else []
    if "parts" in data or partial_parts is None:
        try:
            parts = validate_definition(data.get("parts", []))
        except CriterionError as exc:
            errors.extend(exc.errors)
    refresh_policy = None
    if "refreshPolicy" in data:
        try:
            refresh_policy = validate_policy(data["refreshPolicy"])
        except PolicyError as exc:
            errors.extend(exc.errors)
    if errors:
        raise CriterionError(errors)
    return SegmentInput(name=name, description=description, active=active, parts=parts, refresh_policy=refresh_policy)


def _name(data: dict[str, Any], errors: list[tuple[str, str, str]]) -> str:
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(("name", "This value should not be blank.", "required"))
        return ""
    if len(name) > 255:
        errors.append(("name", "This value is too long. It should have 255 characters or less.", "too_long"))
    return name.strip()


def _description(data: dict[str, Any], errors: list[tuple[str, str, str]]) -> str:
    description = data.get("description", "")
    if description is None:
        return ""
    if not isinstance(description, str):
        errors.append(("description", "This value should be a text.", "invalid"))
    elif len(description) > 10_000:
        errors.append(("description", "This value is too long.", "too_long"))
    return description


def _public(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**part, "criteria": [{k: v for k, v in c.items() if k not in PRIVATE} for c in part["criteria"]]}
        for part in parts
    ]


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return _public(a) == _public(b)


def segment_create(*, account: Account, data: Any, actor: str) -> Segment:
    values = segment_input(data)
    engine.lists_resolve(account=account, parts=values.parts)
    with transaction.atomic():
        segment = Segment.objects.create(
            uuid=uuid7(),
            account=account,
            name=values.name,
            description=values.description,
            active=values.active,
            definition={"parts": values.parts},
            refresh_policy=values.refresh_policy or dict(DEFAULT_POLICY),
            created_by=actor,
        )
        segment_schedule(segment=segment)
        segment.save(update_fields=["next_due_at"])
        if segment.active:
            run_enqueue(segment=segment, trigger=SegmentRun.Trigger.CREATED, actor=actor)
        _audit(segment, actor=actor, action=AUDIT_CREATE, summary=f"created segment {segment.name!r}")
    return segment


def segment_update(*, segment: Segment, data: Any, actor: str) -> Segment:
    values = segment_input(data, current=segment)
    engine.lists_resolve(account=segment.account, parts=values.parts)
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        changed_definition = not _same(values.parts, segment.definition.get("parts", []))
        activated = values.active and not segment.active
        segment.name = values.name
        segment.description = values.description
        segment.active = values.active
        segment.updated_at = timezone.now()
        if changed_definition:
            segment.definition = {"parts": values.parts}
            segment.definition_version += 1
        if values.refresh_policy is not None and values.refresh_policy != segment.refresh_policy:
            segment.refresh_policy = values.refresh_policy
            segment_schedule(segment=segment)
        segment.save()
        if segment.active and (changed_definition or activated):
            trigger = SegmentRun.Trigger.UPDATED if changed_definition else SegmentRun.Trigger.ACTIVATED
            run_enqueue(segment=segment, trigger=trigger, actor=actor)
        elif not segment.active:
            _supersede_queued(segment)
        _audit(segment, actor=actor, action=AUDIT_UPDATE, summary=f"changed segment {segment.name!r}")
    return segment


def _supersede_queued(segment: Segment) -> None:
    SegmentRun.objects.filter(segment=segment, status=SegmentRun.Status.QUEUED).update(
        status=SegmentRun.Status.SUPERSEDED, finished_at=timezone.now()
    )


def segment_set_active(*, segment: Segment, active: bool, actor: str) -> Segment:
    with transaction.atomic():
        segment = Segment.objects.select_for_update().get(pk=segment.pk)
        if segment.active == active:
            return segment
        segment.active = active
        segment.updated_at = timezone.now()
        segment.save(update_fields=["active", "updated_at"])
        if active:
            run_enqueue(segment=segment, trigger=SegmentRun.Trigger.ACTIVATED, actor=actor)
        else:
            _supersede_queued(segment)
        verb = "activated" if active else "deactivated"
        _audit(segment, actor=actor, action=AUDIT_SET_ACTIVE, summary=f"{verb} segment {segment.name!r}")
    return segment


def segment_refresh(*, segment: Segment, actor: str, trigger: str = SegmentRun.Trigger.MANUAL) -> SegmentRun:
    """Recalculate now; also the retry of a paused segment (someone looked at it: its error budget starts over)."""
    with transaction.atomic():
        Segment.objects.filter(pk=segment.pk, paused_at__isnull=False).update(
            paused_at=None, pause_reason="", consecutive_failures=0
        )
        run = run_enqueue(segment=segment, trigger=trigger, actor=actor)
        _audit(segment, actor=actor, action=AUDIT_REFRESH, summary=f"recalculation of segment {segment.name!r} queued")
        return run


def segment_delete(*, segment: Segment, actor: str = "") -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        _audit(segment, actor=actor, action=AUDIT_DELETE, summary=f"deleted segment {segment.name!r}")
        # members, the ledger and the runs first, set-based: the ORM's cascade would load every row into Python
        for statement in statements.segment_rows_delete():
            cursor.execute(render(statement), [segment.pk])
        segment.delete()
