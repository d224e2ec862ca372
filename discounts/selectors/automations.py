"""Reads of automations and their deliveries, their API representation, and their filters in words."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from discounts.errors import AutomationNotFound
from discounts.models import Automation, AutomationDelivery
from loyalty.accounts.models import Account

STATES = ("all", "available", "deleted")


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _public_action(action: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in action.items() if k != "secret"}


def automation_to_api(automation: Automation, *, secrets: dict[int, str] | None = None) -> dict[str, Any]:
    """The Automation as posted (its http actions' secrets left out, but those just made: `secrets`), its
    normalized limitation and the Entity fields."""
    document = automation.document
    actions = [_public_action(a) for a in document["actions"]]
    for index, secret in (secrets or {}).items():
        actions[index]["secret"] = secret
    body: dict[str, Any] = {
        **document,
        "actions": actions,
        "limitation": {**document.get("limitation", {}), "automation_repeat": automation.repeat},
        "id": str(automation.id),
        "created_at": _iso(automation.created_at),
        "created_by": automation.created_by,
        "updated_at": _iso(automation.updated_at),
    }
    if automation.deleted_at:
        body["deleted_at"] = _iso(automation.deleted_at)
        body["deleted_by"] = automation.deleted_by
    return body


def _state(queryset: QuerySet[Automation], state: str | None) -> QuerySet[Automation]:
    if state == "all":
        return queryset
    if state == "deleted":
        return queryset.filter(deleted_at__isnull=False)
    if state == "available":
        return queryset.filter(deleted_at__isnull=True, automation_to__gt=timezone.now())
    return queryset.filter(deleted_at__isnull=True)


def automation_list(
    *, account: Account, state: str | None, limit: int, starting_after: uuid.UUID | None
) -> list[Automation]:
    """Newest first, paged by id. Without a state: every automation not deleted."""
    queryset = _state(Automation.objects.filter(account=account), state)
    if starting_after:
        queryset = queryset.filter(id__lt=starting_after)
    return list(queryset.order_by("-id")[:limit])


def automation_get(*, account: Account, automation_id: Any, deleted_too: bool = False) -> Automation:
    try:
        pk = uuid.UUID(str(automation_id))
    except ValueError as exc:
        raise AutomationNotFound() from exc
    queryset = Automation.objects.filter(account=account, pk=pk)
    if not deleted_too:
        queryset = queryset.filter(deleted_at__isnull=True)
    automation = queryset.first()
    if automation is None:
        raise AutomationNotFound()
    return automation


def automations_overview(*, account: Account) -> list[Automation]:
    """Live ones first, newest first."""
    return list(Automation.objects.filter(account=account).order_by(F("deleted_at").asc(nulls_first=True), "-id")[:500])


def automation_deliveries(*, account: Account, automation: Automation, limit: int = 50) -> list[AutomationDelivery]:
    """The latest deliveries, newest first, with their trigger and event."""
    return list(
        AutomationDelivery.objects.filter(account=account, automation=automation)
        .select_related("trigger", "trigger__event")
        .order_by("-id")[:limit]
    )


COUNT_CAP = 10_000


def automation_counts(*, account: Account, automation: Automation) -> dict[str, int]:
    """The live counter: events seen and triggered (kept on the row), deliveries by outcome, each counted up to
    COUNT_CAP + 1 (a bounded scan of the automation's deliveries, polled every few seconds; more reads as "10,000+")."""
    counts = {"seen": automation.events_seen, "triggered": automation.triggered}
    for status in AutomationDelivery.Status.values:
        matching = AutomationDelivery.objects.filter(account=account, automation=automation, status=status)
        counts[status] = matching[: COUNT_CAP + 1].count()
    return counts


def counts_in_words(counts: dict[str, int]) -> dict[str, str]:
    """Thin-space thousands, as the pages print numbers; a capped count as "10 000+"."""

    def word(key: str, value: int) -> str:
        if key in AutomationDelivery.Status.values and value > COUNT_CAP:
            return f"{COUNT_CAP:,}+".replace(",", "\u202f")
        return f"{value:,}".replace(",", "\u202f")

    return {key: word(key, value) for key, value in counts.items()}


# --- in words -------------------------------------------------------------------------------------------------------

OPERATORS = {"=": "is", "<": "is less than", "<=": "is at most", ">": "is more than", ">=": "is at least"}
EVENT_WORDS = {
    "customer_add": "a new customer",
    "customer_update": "a customer's profile changes",
    "customer_remove": "a customer is removed",
    "token_add": "a token is added",
    "token_remove": "a token is removed",
    "receipt_add": "a receipt arrives",
}
# the paths merchants filter on, in words; any other path is shown as written (with its values as JSON)
PATH_WORDS = {
    "$.store.id": "store",
    "$.store.name": "store name",
    "$.store.mcc": "store MCC",
    "$.customer_id": "customer",
    "$.currency": "currency",
    "$.gross_amount": "gross amount",
    "$.net_amount": "net amount",
    "$.items[*].id": "an item",
    "$.items[*].groups[*].id": "an item group",
    "$.status": "status",
    "$.type": "customer type",
    "$.email": "email",
    "$.phone_number": "phone number",
    "$.addresses[*].postal_code": "a postal code",
    "$.addresses[*].country": "a country",
}
AMOUNT_PATHS = frozenset({"$.gross_amount", "$.net_amount"})  # in the receipt's minor units


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _matcher_words(matcher: Any, show: Callable[[Any], str]) -> str:
    if not isinstance(matcher, dict):
        return f"is {show(matcher)}"
    ((kind, argument),) = matcher.items()
    if kind == "anything-but":
        values = argument if isinstance(argument, list) else [argument]
        return "is anything but " + " or ".join(show(v) for v in values)
    pairs = [(argument[i], argument[i + 1]) for i in range(0, len(argument), 2)]
    return " and ".join(f"{OPERATORS[op]} {show(n)}" for op, n in pairs)


def _shower(key: str, amount: Callable[[Any], str] | None) -> Callable[[Any], str]:
    if key not in PATH_WORDS:
        return _value
    if key in AMOUNT_PATHS and amount is not None:
        return lambda v: amount(v) if isinstance(v, int | float) and not isinstance(v, bool) else _value(v)
    return lambda v: v if isinstance(v, str) else _value(v)


def filter_in_words(value: dict[str, Any] | None, *, amount: Callable[[Any], str] | None = None) -> list[str]:
    """One line per key, e.g. `store is S001 or is S002`; every line must hold. Known paths are named in words;
    `amount` formats a minor-unit amount (the caller knows the account's currency), else amounts stay numbers."""
    if not value:
        return []
    lines = []
    for key, matchers in value.items():
        show = _shower(key, amount)
        lines.append(f"{PATH_WORDS.get(key, key)} {' or '.join(_matcher_words(m, show) for m in matchers)}")
    return lines


def events_in_words(events: list[str]) -> str:
    return " or ".join(EVENT_WORDS.get(event, event) for event in events)
