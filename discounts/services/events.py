"""Receiving events: the `POST /discounts/events` webhook sink, and events derived from stored receipts.

Both write `AutomationEvent` rows whose unique keys make them idempotent, then ask the automations processor (by
task name, after commit) to look at them. An event no live automation listens to is stored already processed: it
still counts for idempotency, and costs no task.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from discounts import documents
from discounts import sql_automations as statements
from discounts.errors import DiscountValidationError
from discounts.models import (
    Automation,
    AutomationBatchCursor,
    AutomationBatchSeen,
    EventType,
)
from loyalty.accounts.models import Account
from loyalty.core.jobs import enqueue_on_commit
from loyalty.core.sql import raw_cursor
from loyalty.core.validation import Problems, contains_nul, customer_id_problems
from receipts.readmodels import queries as receipts

POSTED_TYPES = (EventType.TOKEN_ADD, EventType.TOKEN_REMOVE, EventType.RECEIPT_ADD)
MAX_DELIVERY_ID = 255
MAX_TOKEN_VALUE = 1024
# A batch row is an ingest transaction's last write; one not yet visible this long after its transaction began
# would be a transaction running longer than any ingest does. The cursor moves past batches only this old.
BATCH_SETTLE = timedelta(minutes=10)
BATCH_CHUNK = 100  # batches per transaction (up to 100,000 receipts) when catching up
RECEIPT_TYPES = {EventType.RECEIPT_ADD, EventType.CUSTOMER_ADD, EventType.CUSTOMER_UPDATE}


def _invalid(errors: Problems) -> DiscountValidationError:
    return DiscountValidationError("The event is invalid.", errors)


def _token_problems(token: Any) -> Problems:
    if not isinstance(token, dict):
        return [("token", "is required for token events")]
    problems: Problems = []
    for name in ("token_id", "customer_id"):
        problems += customer_id_problems(token.get(name), f"token.{name}")
    for name, limit in (("token_id", 255), ("customer_id", 255), ("type", 255), ("value", MAX_TOKEN_VALUE)):
        value = token.get(name)
        if isinstance(value, str) and (len(value) > limit or not value):
            problems.append((f"token.{name}", f"must be 1 to {limit} characters"))
    return problems


def event_problems(*, event_type: Any, delivery_id: Any, body: Any) -> Problems:
    problems: Problems = []
    if event_type not in POSTED_TYPES:
        problems.append(("event", f"header must be one of {', '.join(POSTED_TYPES)}"))
    if not isinstance(delivery_id, str) or not delivery_id.strip() or len(delivery_id) > MAX_DELIVERY_ID:
        problems.append(("event-delivery", f"header must be an id of 1 to {MAX_DELIVERY_ID} characters"))
    if not isinstance(body, dict):
        return [*problems, ("", "must be an object")]
    problems += documents.validate_body("aid_discounts_events_post", body)
    if problems:
        return problems
    if event_type == EventType.RECEIPT_ADD:
        if not isinstance(body.get("receipt"), dict):
            return [("receipt", "is required for receipt_add")]
        problems += customer_id_problems(body["receipt"]["customer_id"], "receipt.customer_id")
        if not str(body["receipt"]["id"]).strip() or len(str(body["receipt"]["id"])) > 255:
            problems.append(("receipt.id", "must be 1 to 255 characters"))
    else:
        problems += _token_problems(body.get("token"))
    if not problems and contains_nul(body):
        problems.append(("", "text must not contain NUL (\\u0000) characters"))
    return problems


def listening_types(*, account: Account, now: datetime) -> set[str]:
    """The event types some live automation of the account still waits for."""
    lists = Automation.objects.filter(account=account, deleted_at__isnull=True, automation_to__gt=now).values_list(
        "events", flat=True
    )
    return {event for events in lists for event in events}


def _announce(account: Account) -> None:
    enqueue_on_commit("discounts.automation_events", args=[account.pk])


STATEMENTS: dict[str, str] = {
    EventType.RECEIPT_ADD: statements.EVENT_RECEIVE,
    EventType.TOKEN_ADD: statements.TOKEN_ADD_RECEIVE,
    EventType.TOKEN_REMOVE: statements.TOKEN_REMOVE_RECEIVE,
}


def event_receive(*, account: Account, event_type: str, delivery_id: str, body: Any) -> bool:
    """Store a posted event once per `event-delivery` id (and a receipt once, whichever delivery brings it);
    token events change the token store in the same statement. False for a repeat: nothing happened.

    One statement: the event (its unique keys decide, not a look first, so repeats arriving together are one),
    with a token event's change of the token store. A webhook sink answers many small requests; each round trip
    counts."""
    problems = event_problems(event_type=event_type, delivery_id=delivery_id, body=body)
    if problems:
        raise _invalid(problems)
    receipt = body.get("receipt") if event_type == EventType.RECEIPT_ADD else None
    payload = receipt if receipt is not None else body["token"]
    params = {
        "account": account.pk,
        "key": f"delivery:{delivery_id}",
        "subject": f"receipt:{receipt['id']}" if receipt is not None else None,
        "type": event_type,
        "customer": payload["customer_id"],
        "payload": Jsonb(payload),
        "now": timezone.now(),
    }
    if receipt is None:
        token = body["token"]
        params.update(token_type=token["type"], value=token["value"], token_id=token["token_id"])
    cur = raw_cursor()
    # one statement, atomic by itself: no transaction of its own, so no BEGIN and COMMIT round trips
    cur.execute(STATEMENTS[event_type], params)
    row = cur.fetchone()
    if row is None:
        return False
    if row[0]:  # some automation listens (on commit: at once, the event is stored by now)
        _announce(account)
    return True


def receipts_to_events(*, account_id: int) -> int:
    """Turn the account's new receipt batches from the Receipts API into events, once each; returns how many
    events were added. Only the types some automation listens to are derived (nothing, for most accounts)."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        return 0
    # the cursor row exists before it is locked: two first runs at once must not both try to create it
    AutomationBatchCursor.objects.bulk_create([AutomationBatchCursor(account=account)], ignore_conflicts=True)
    added = 0
    while True:
        chunk, more = _batches_to_events(account)
        added += chunk
        if not more:
            return added


def _batches_to_events(account: Account) -> tuple[int, bool]:
    """One transaction over at most BATCH_CHUNK batches; (events added, whether more batches wait)."""
    now = timezone.now()
    with transaction.atomic():
        cursor = AutomationBatchCursor.objects.select_for_update().get(account=account)
        seen = AutomationBatchSeen.objects.filter(account=account, batch_id__gt=cursor.last_batch)
        batches = list(
            receipts.ingest_batches_after(account=account, after_id=cursor.last_batch)
            .exclude(id__in=seen.values("batch_id"))
            .values_list("id", "source", "created_at")[:BATCH_CHUNK]
        )
        if not batches:
            _advance(cursor, now, up_to=None)  # every batch above the cursor is seen
            return 0, False
        added = _derive(account, [b[0] for b in batches if b[1] == "api"], now)
        AutomationBatchSeen.objects.bulk_create(
            [AutomationBatchSeen(batch_id=b[0], account=account) for b in batches], ignore_conflicts=True
        )
        more = len(batches) == BATCH_CHUNK
        # with more to come, the batches above this chunk are not all seen yet: the cursor stays within it
        _advance(cursor, now, up_to=batches[-1][0] if more else None)
        if added:
            _announce(account)
    return added, more


def _derive(account: Account, batch_ids: list[int], now: datetime) -> int:
    wanted = listening_types(account=account, now=now) & RECEIPT_TYPES
    if not batch_ids or not wanted:
        return 0
    cur = raw_cursor()
    params = {"account": account.pk, "batches": batch_ids, "now": now}
    added = 0
    for event_type, statement in (
        (EventType.CUSTOMER_ADD, statements.CUSTOMER_ADD_EVENTS),
        (EventType.CUSTOMER_UPDATE, statements.CUSTOMER_UPDATE_EVENTS),
        (EventType.RECEIPT_ADD, statements.RECEIPT_EVENTS),
    ):
        if event_type in wanted:
            cur.execute(statement, params)
            added += cur.rowcount
    return added


def _advance(cursor: AutomationBatchCursor, now: datetime, *, up_to: int | None) -> None:
    """Move the cursor over the batches old enough that none below them can still appear (and not past `up_to`),
    and forget those."""
    candidates = receipts.ingest_batches_after(account=cursor.account, after_id=cursor.last_batch)
    if up_to is not None:
        candidates = candidates.filter(id__lte=up_to)
    settled = candidates.filter(created_at__lt=now - BATCH_SETTLE).order_by("-id").values_list("id", flat=True).first()
    if settled is None:
        return
    cursor.last_batch = settled
    cursor.updated_at = now
    cursor.save(update_fields=["last_batch", "updated_at"])
    AutomationBatchSeen.objects.filter(account=cursor.account, batch_id__lte=settled).delete()
