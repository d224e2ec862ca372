"""Automations: create and delete them, and process events into triggers and deliveries.

Processing takes an account's unprocessed events (at most `CHUNK` at a time, under a per-account advisory lock, so
two processors never number the same customer's occurrences), matches them against the live automations in one
statement (type, window, compiled filter, `automation_repeat`), writes one delivery per action of every new
trigger and marks the events processed, all in one transaction; the deliveries are sent to workers after commit.
A processor killed half-way commits nothing, and the events are taken again.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from discounts import documents
from discounts import sql_automations as statements
from discounts.automation_filter import compile_filter, filter_problems
from discounts.errors import AutomationNotFound, DiscountValidationError
from discounts.models import Automation, AutomationBatchCursor, AutomationDelivery, AutomationEvent, DiscountRule
from loyalty.accounts.models import Account
from loyalty.api.swagger import parse_datetime
from loyalty.core.jobs import enqueue_on_commit
from loyalty.core.services import audit_record
from loyalty.core.sql import advisory_key, advisory_xact_lock, raw_cursor
from loyalty.core.validation import Problems, contains_nul
from receipts.readmodels import queries as receipts

AUTOMATION_CREATE = "discounts:automation-create"
AUTOMATION_DELETE = "discounts:automation-delete"
DELIVERY_RETRY = "discounts:automation-delivery-retry"
CHUNK = 1000
MAX_ACTIONS = 10
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_URL = 2048
MAX_BODY = 65_536
SECRET_BYTES = 24
# Deliveries left pending this long (a lost message, a killed worker past its retries) are sent again.
STALE_DELIVERY = timedelta(minutes=10)
STALE_EVENTS = timedelta(minutes=1)
# Events that triggered nothing are forgotten after this long (a delivery repeated later is taken as new); those
# that triggered something stay with their deliveries.
EVENTS_KEPT = timedelta(days=30)
FORGET_CHUNK = 10_000


def _invalid(errors: Problems) -> DiscountValidationError:
    return DiscountValidationError("The automation is invalid.", errors)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _window_problems(requirement: dict[str, Any]) -> Problems:
    starts, ends = parse_datetime(requirement.get("automation_from")), parse_datetime(requirement.get("automation_to"))
    if starts and ends and ends <= starts:
        return [("requirement.automation_to", "must be after requirement.automation_from")]
    return []


def _discount_problem(account: Account, action: dict[str, Any], ends: datetime | None) -> str | None:
    rule = DiscountRule.objects.filter(account=account, pk=_uuid(action.get("id")), deleted_at__isnull=True).first()
    if rule is None:
        return "must be the id of a discount rule of this account"
    if ends and ends > rule.purchase_to:
        return "the rule ends before requirement.automation_to (the spec: automations end before their discounts)"
    return None


def _when(value: Any) -> datetime:
    parsed = parse_datetime(value)
    assert parsed is not None  # validated
    return parsed


def _uuid(value: Any) -> Any:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _http_url(url: Any) -> bool:
    if not isinstance(url, str) or len(url) > MAX_URL:
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here, not at the first delivery
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _http_problems(action: dict[str, Any], where: str) -> Problems:
    problems: Problems = []
    url = action.get("url")
    if not _http_url(url):
        problems.append((f"{where}.url", f"must be an absolute http(s) URL of at most {MAX_URL} characters"))
    if action.get("method") not in HTTP_METHODS:
        problems.append((f"{where}.method", f"must be one of {', '.join(HTTP_METHODS)}"))
    body = action.get("body")
    if body is not None and not isinstance(body, str | dict | list):
        problems.append((f"{where}.body", "must be a string or a JSON template"))
    elif body is not None and len(str(body)) > MAX_BODY:
        problems.append((f"{where}.body", f"must be at most {MAX_BODY} characters"))
    secret = action.get("secret")
    if secret is not None and (not isinstance(secret, str) or not 16 <= len(secret) <= 256):
        problems.append((f"{where}.secret", "must be 16 to 256 characters"))
    return problems


def _actions_problems(account: Account, actions: list[Any], ends: datetime | None) -> Problems:
    if not actions or len(actions) > MAX_ACTIONS:
        return [("actions", f"must list 1 to {MAX_ACTIONS} actions")]
    problems: Problems = []
    for index, action in enumerate(actions):
        where = f"actions[{index}]"
        kind = _dict(action).get("type")
        if kind == "discount":
            problem = _discount_problem(account, action, ends)
            if problem:
                problems.append((f"{where}.id", problem))
        elif kind == "http":
            problems += _http_problems(action, where)
        else:
            problems.append((f"{where}.type", "must be discount or http"))
    return problems


def _normalized(body: dict[str, Any]) -> tuple[dict[str, Any], Problems]:
    """The spec's own example says `filters`; the schema `filter`. Either is read, as `filter`."""
    requirement = dict(_dict(body.get("requirement")))
    if "filters" in requirement:
        if "filter" in requirement:
            return body, [("requirement.filters", "send filter or filters, not both")]
        requirement["filter"] = requirement.pop("filters")
    return {**body, "requirement": requirement}, []


def automation_problems(*, account: Account, body: Any) -> Problems:
    if not isinstance(body, dict):
        return [("", "must be an object")]
    errors = documents.validate_body("aid_automations_rules_post", body)
    requirement = _dict(body.get("requirement"))
    errors += _window_problems(requirement)
    if isinstance(requirement.get("events"), list) and len(set(map(str, requirement["events"]))) != len(
        requirement["events"]
    ):
        errors.append(("requirement.events", "must not repeat an event"))
    if isinstance(requirement.get("events"), list) and not requirement["events"]:
        errors.append(("requirement.events", "must name at least one event"))
    errors += filter_problems(requirement.get("filter"))
    repeat = _dict(body.get("limitation")).get("automation_repeat", 1)
    if isinstance(repeat, int) and not isinstance(repeat, bool) and repeat != -1 and repeat < 1:
        errors.append(("limitation.automation_repeat", "must be -1 (no limit) or at least 1"))
    if isinstance(body.get("actions"), list):
        errors += _actions_problems(account, body["actions"], parse_datetime(requirement.get("automation_to")))
    if not errors and contains_nul(body):
        errors.append(("", "text must not contain NUL (\\u0000) characters"))
    return errors


def automation_create(*, account: Account, body: Any, actor: str) -> tuple[Automation, dict[int, str]]:
    """The automation and the signing secrets made for its http actions that came without one (index → secret):
    the answer to the POST shows them once."""
    if isinstance(body, dict):
        body, errors = _normalized(documents.strip_server_fields(body))
    else:
        errors = []
    errors = errors or automation_problems(account=account, body=body)
    if errors:
        raise _invalid(errors)
    made: dict[int, str] = {}
    actions = []
    for index, action in enumerate(body["actions"]):
        if action["type"] == "http" and "secret" not in action:
            made[index] = secrets.token_urlsafe(SECRET_BYTES)
            action = {**action, "secret": made[index]}
        actions.append(action)
    document = {**body, "actions": actions}
    requirement = document["requirement"]
    compiled = compile_filter(requirement.get("filter"))
    now = timezone.now()
    with transaction.atomic():
        automation = Automation.objects.create(
            account=account,
            document=document,
            name=document.get("name", ""),
            events=requirement["events"],
            automation_from=_when(requirement["automation_from"]),
            automation_to=_when(requirement["automation_to"]),
            condition=compiled.condition,
            condition_vars=compiled.variables,
            repeat=_dict(document.get("limitation")).get("automation_repeat", 1),
            rule_ids=[_uuid(a["id"]) for a in actions if a["type"] == "discount"],
            created_at=now,
            created_by=actor,
            updated_at=now,
        )
        _audit(automation, account=account, actor=actor, action=AUTOMATION_CREATE)
    return automation, made


def _audit(automation: Automation, *, account: Account, actor: str, action: str) -> None:
    audit_record(
        account=account,
        actor=actor,
        action=action,
        object_type=Automation._meta.label,
        object_id=str(automation.pk),
        summary=automation.name or str(automation.pk),
    )


def automation_delete(*, account: Account, automation_id: Any, actor: str) -> Automation:
    with transaction.atomic():
        automation = (
            Automation.objects.select_for_update()
            .filter(account=account, pk=_uuid(automation_id), deleted_at__isnull=True)
            .first()
        )
        if automation is None:
            raise AutomationNotFound()
        automation.deleted_at = automation.updated_at = timezone.now()
        automation.deleted_by = actor
        automation.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        _audit(automation, account=account, actor=actor, action=AUTOMATION_DELETE)
    return automation


# --- processing ---------------------------------------------------------------------------------------------------


def automation_events_process(*, account_id: int) -> int:
    """Process the account's waiting events, a chunk per transaction; returns how many deliveries were made."""
    made = 0
    while True:
        delivered, more = _process_chunk(account_id)
        made += delivered
        if not more:
            return made


def _process_chunk(account_id: int) -> tuple[int, bool]:
    now = timezone.now()
    with transaction.atomic():
        cur = raw_cursor()
        advisory_xact_lock(cur, advisory_key("automation-events", account_id))
        events = list(
            AutomationEvent.objects.filter(account_id=account_id, processed_at__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)[:CHUNK]
        )
        if not events:
            return 0, False
        params: dict[str, Any] = {"account": account_id, "events": events, "now": now}
        cur.execute(statements.COUNT_SEEN, params)
        cur.execute(statements.TRIGGERS, params)
        triggers = [row[0] for row in cur.fetchall()]
        deliveries: list[int] = []
        if triggers:
            cur.execute(statements.COUNT_TRIGGERED, {"triggers": triggers})
            cur.execute(statements.DELIVERIES, {"account": account_id, "triggers": triggers, "now": now})
            deliveries = [row[0] for row in cur.fetchall()]
        cur.execute(statements.EVENTS_DONE, params)
        for delivery in deliveries:
            enqueue_on_commit("discounts.automation_deliver", args=[delivery])
    return len(deliveries), len(events) == CHUNK


def automation_delivery_retry(*, account: Account, delivery_id: int, actor: str) -> AutomationDelivery:
    """Send a failed delivery's action again (from its page)."""
    with transaction.atomic():
        delivery = (
            AutomationDelivery.objects.select_for_update()
            .filter(account=account, pk=delivery_id, status=AutomationDelivery.Status.FAILED)
            .select_related("automation")
            .first()
        )
        if delivery is None:
            raise AutomationNotFound()
        delivery.status = AutomationDelivery.Status.PENDING
        delivery.error = ""
        delivery.updated_at = timezone.now()
        delivery.finished_at = None
        delivery.save(update_fields=["status", "error", "updated_at", "finished_at"])
        _audit(delivery.automation, account=account, actor=actor, action=DELIVERY_RETRY)
        enqueue_on_commit("discounts.automation_deliver", args=[delivery.pk])
    return delivery


def automations_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Beat's catch-up for lost messages: receipt batches no task turned into events, events waiting, deliveries
    pending too long. Work is always a row first, so an outage delays it and loses none."""
    now = now or timezone.now()
    cursors = dict(AutomationBatchCursor.objects.values_list("account_id", "last_batch"))
    accounts = [aid for aid, newest in receipts.newest_batch_per_account().items() if newest > cursors.get(aid, 0)]
    for account_id in accounts:
        enqueue_on_commit("discounts.receipts_to_events", args=[account_id])
    waiting = set(
        AutomationEvent.objects.filter(processed_at__isnull=True, received_at__lt=now - STALE_EVENTS).values_list(
            "account_id", flat=True
        )
    )
    for account_id in waiting:
        enqueue_on_commit("discounts.automation_events", args=[account_id])
    stale = list(
        AutomationDelivery.objects.filter(
            status=AutomationDelivery.Status.PENDING, updated_at__lt=now - STALE_DELIVERY
        ).values_list("id", flat=True)[:CHUNK]
    )
    for delivery in stale:
        enqueue_on_commit("discounts.automation_deliver", args=[delivery])
    cur = raw_cursor()
    cur.execute(statements.EVENTS_FORGET, {"before": now - EVENTS_KEPT, "limit": FORGET_CHUNK})
    return {"batches": len(accounts), "events": len(waiting), "deliveries": len(stale), "forgotten": cur.rowcount}
