"""The criteria registry: validation of a definition and its compilation into one customer filter.

A customer is in a segment when, for every part, they match at least one criterion of that part (parts AND,
criteria OR within a part), as in Open Loyalty. Each criterion compiles to a Django Q over the account's customers
(a column condition, or membership in a set-based subquery over the receipts read models); the whole definition is
one SQL statement.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q

from segments.criteria import items, profile, purchases
from segments.criteria.base import NEVER, Context, CriterionError, Fields
from segments.criteria.declaration import Criterion

# In the builder's order (grouped by `Criterion.group`).
_ALL: list[Criterion] = [
    purchases.TransactionCount(),
    purchases.TransactionCountInPeriod(),
    purchases.TransactionAmount(),
    purchases.AverageTransactionAmount(),
    purchases.TransactionAmountInPeriod(),
    purchases.TransactionAmountInLastNDays(),
    purchases.TransactionAmountEachDayInPeriod(),
    purchases.TransactionAmountEachDayInLastNDays(),
    purchases.PurchasePeriod(),
    purchases.LastPurchaseNDaysBefore(),
    purchases.LastTransactionBetweenDays(),
    purchases.MemberRegistrationDate(),
    items.BoughtItems(),
    items.BoughtSkus(),
    items.BoughtLabels(),
    items.BoughtMakers(),
    items.BoughtThroughChannel(),
    items.TransactionPercentInChannel(),
    profile.Anniversary(),
    profile.Age(),
    profile.Gender(),
    profile.Country(),
    profile.City(),
    profile.Postal(),
    profile.MarketingConsent(),
    profile.CustomerHasLabels(),
    profile.CustomerWithLabelsValues(),
    profile.MemberCustomFieldValue(),
    profile.MemberLoyaltyCardNumber(),
    profile.CustomerList(),
    profile.CustomerCsvList(),
]
CRITERIA: dict[str, Criterion] = {c.type: c for c in _ALL}
ALIASES = {"bought_in_pos": "bought_through_channel"}

_WHY = "this product has no {} (it is built from receipts and discount rules)"
UNSUPPORTED: dict[str, str] = {
    "customer_in_level": _WHY.format("loyalty levels"),
    "customer_in_tiers": _WHY.format("tiers"),
    "campaign_completion": _WHY.format("campaigns"),
    "challenge_campaign_completion_count": _WHY.format("challenge campaigns"),
    "challenge_campaign_milestone_progress": _WHY.format("challenge campaigns"),
    "achievement_completion_count": _WHY.format("achievements"),
    "achievement_rule_progress": _WHY.format("achievements"),
    "last_custom_event_n_days_before": _WHY.format("custom events"),
    "last_custom_event_between_days": _WHY.format("custom events"),
    "province": "addresses on receipts have no province field (use city, postal or country)",
}
# Derived from the declarations: customer lists, criteria that move with the clock, and fixed periods.
LIST_TYPES = {kind for kind, criterion in CRITERIA.items() if criterion.is_list}
CLOCK_TYPES = {kind for kind, criterion in CRITERIA.items() if criterion.clock}
PERIOD_FIELDS = {kind: criterion.period for kind, criterion in CRITERIA.items() if criterion.period is not None}
MAX_PARTS = 20
MAX_CRITERIA = 50


def validate_definition(parts: Any, *, keep_ids: bool = True) -> list[dict[str, Any]]:
    """Check every part and criterion; returns the normalized parts (with ids) or raises CriterionError listing
    every problem with its path (e.g. `parts[0].criteria[1].fromAmount`)."""
    errors: list[tuple[str, str, str]] = []
    if not isinstance(parts, list):
        raise CriterionError([("parts", "This value should be a list of parts.", "invalid")])
    if len(parts) > MAX_PARTS:
        errors.append(("parts", f"A segment can have at most {MAX_PARTS} parts.", "too_many"))
    normalized = []
    for p_index, part in enumerate(parts[:MAX_PARTS]):
        part_path = f"parts[{p_index}]"
        if not isinstance(part, dict):
            errors.append((part_path, "This value should be an object with criteria.", "invalid"))
            continue
        criteria = part.get("criteria")
        if not isinstance(criteria, list) or not criteria:
            errors.append((f"{part_path}.criteria", "A part needs at least one criterion.", "required"))
            continue
        if len(criteria) > MAX_CRITERIA:
            errors.append((f"{part_path}.criteria", f"A part can have at most {MAX_CRITERIA} criteria.", "too_many"))
            continue
        out_criteria = []
        for c_index, criterion in enumerate(criteria):
            path = f"{part_path}.criteria[{c_index}]"
            cleaned = _validate_criterion(criterion, path, errors, keep_ids=keep_ids)
            if cleaned is not None:
                out_criteria.append(cleaned)
        part_id = part.get("segmentPartId") if keep_ids and _is_uuid(part.get("segmentPartId")) else str(uuid.uuid4())
        normalized.append({"segmentPartId": part_id, "criteria": out_criteria})
    if errors:
        raise CriterionError(errors)
    return normalized


def validate_parts_each(parts: Any) -> tuple[list[dict[str, Any] | None], list[tuple[str, str]]]:
    """Each part validated on its own (the builder's preview counts the valid parts while another is being filled
    in): the normalized part or None per part, and every problem as (path, message)."""
    if not isinstance(parts, list):
        return [], [("parts", "This value should be a list of parts.")]
    errors: list[tuple[str, str]] = []
    valid: list[dict[str, Any] | None] = []
    for index, part in enumerate(parts):
        try:
            (normalized,) = validate_definition([part])
        except CriterionError as exc:
            errors.extend((path.replace("parts[0]", f"parts[{index}]", 1), message) for path, message, _ in exc.errors)
            valid.append(None)
        else:
            valid.append(normalized)
    return valid, errors


def _validate_criterion(raw: Any, path: str, errors: list, *, keep_ids: bool) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errors.append((path, "This value should be a criterion object.", "invalid"))
        return None
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        errors.append((f"{path}.type", "This value should not be blank.", "required"))
        return None
    kind = ALIASES.get(kind, kind)
    if kind in UNSUPPORTED:
        errors.append(
            (
                f"{path}.type",
                f"The criterion type {kind} is not supported: {UNSUPPORTED[kind]}.",
                "unsupported_criterion",
            )
        )
        return None
    criterion = CRITERIA.get(kind)
    if criterion is None:
        errors.append((f"{path}.type", f"Unknown criterion type {kind!r}.", "invalid_choice"))
        return None
    before = len(errors)
    for unknown in sorted(set(raw) - criterion.known()):
        message = f"The criterion {kind} has no field {unknown!r} (it would be ignored)."
        errors.append((f"{path}.{unknown}", message, "unknown_field"))
    fields = Fields(raw, path, errors)
    criterion.validate(fields)
    if len(errors) > before:
        return None
    criterion_id = raw.get("criterionId") if keep_ids and _is_uuid(raw.get("criterionId")) else str(uuid.uuid4())
    cleaned = {"criterionId": criterion_id, "type": raw["type"], **{k: _jsonable(v) for k, v in fields.out.items()}}
    # resolution of customer lists is kept when the list itself did not change
    if kind in LIST_TYPES and raw.get("customers") == cleaned.get("customers"):
        for private in ("_customerPks", "matched", "unmatched"):
            if private in raw:
                cleaned[private] = raw[private]
    return cleaned


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value) if value != value.to_integral_value() else int(value)
    return value


def _typed(criterion: dict[str, Any]) -> dict[str, Any]:
    """Stored (JSON) values back to Python types via the same validation."""
    errors: list = []
    kind = ALIASES.get(criterion["type"], criterion["type"])
    fields = Fields(criterion, "", errors)
    CRITERIA[kind].validate(fields)
    if errors:
        raise CriterionError(errors)
    return {**criterion, **fields.out}


def criterion_q(criterion: dict[str, Any], ctx: Context) -> Q:
    kind = ALIASES.get(criterion["type"], criterion["type"])
    return CRITERIA[kind].q(_typed(criterion), ctx)


def part_q(part: dict[str, Any], ctx: Context) -> Q:
    q = NEVER
    for criterion in part["criteria"]:
        q |= criterion_q(criterion, ctx)
    return q


def definition_q(parts: list[dict[str, Any]], ctx: Context) -> Q | None:
    """None for a definition without parts (a segment of nobody)."""
    if not parts:
        return None
    q = Q()
    for part in parts:
        q &= part_q(part, ctx)
    return q
