"""Performing one delivery (one action of one trigger), from a worker.

- `discount`: the rule is given to the trigger's customer through `rule_customers_give`, in the same transaction
  that marks the delivery done, with the offering constraint `automation:<id>:<occurrence>`: a worker killed
  half-way commits neither, a repeat finds the delivery done, and each occurrence is one ref.
- `http`: the request is built from the action's template and the event, signed (`event-signature`: HMAC-SHA256 of
  the body with the action's secret), sent with a timeout to an address that is neither private nor loopback
  (unless `AUTOMATIONS_HTTP_ALLOW_PRIVATE`), and retried with backoff by the task. An http call cannot be exactly
  once: the receiver sees the same `event-delivery` id on every attempt and can drop repeats.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from discounts.automation_filter import resolve
from discounts.models import AutomationDelivery, DiscountRule
from discounts.services import rule_customers_give

MAX_ERROR = 500
# An automation deleted (or its rule, which deletes it) after it triggered performs nothing more.
AUTOMATION_DELETED = "The automation was deleted before this action ran."
PLACEHOLDER = re.compile(r"\{(\$[^{}]*)\}")


class DeliveryFailed(Exception):
    """An http attempt that failed; `retry` says whether another attempt may succeed."""

    def __init__(self, message: str, *, retry: bool, status: int | None = None):
        super().__init__(message)
        self.retry = retry
        self.status = status


def _finish(delivery: AutomationDelivery, status: str, *, error: str = "", response: int | None = None) -> None:
    delivery.status = status
    delivery.error = error[:MAX_ERROR]
    delivery.response_status = response
    delivery.updated_at = delivery.finished_at = timezone.now()
    delivery.save(update_fields=["status", "error", "response_status", "updated_at", "finished_at"])


def _pending(delivery_id: int) -> AutomationDelivery | None:
    return (
        AutomationDelivery.objects.select_for_update()
        .select_related("automation", "trigger", "trigger__event", "account")
        .filter(pk=delivery_id, status=AutomationDelivery.Status.PENDING)
        .first()
    )


def _action(delivery: AutomationDelivery) -> dict[str, Any]:
    return delivery.automation.document["actions"][delivery.action_index]


def delivery_give(*, delivery_id: int) -> str | None:
    """Perform a discount delivery exactly once; returns its final status (None: not pending)."""
    with transaction.atomic():
        delivery = _pending(delivery_id)
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
        if delivery.automation.deleted_at is not None:
            _finish(delivery, AutomationDelivery.Status.FAILED, error=AUTOMATION_DELETED)
            return delivery.status
        rule = DiscountRule.objects.filter(
            account=delivery.account, pk=_action(delivery)["id"], deleted_at__isnull=True
        ).first()
        if rule is None:
            _finish(delivery, AutomationDelivery.Status.FAILED, error="The discount rule was deleted.")
            return delivery.status
        trigger = delivery.trigger
        rule_customers_give(
            account=delivery.account,
            rule=rule,
            customer_ids=[trigger.customer_id],
            offering_constraint_id=f"automation:{delivery.automation_id}:{trigger.occurrence}",
            actor=f"automation:{delivery.automation_id}",
        )
        _finish(delivery, AutomationDelivery.Status.SUCCEEDED)
        return delivery.status


# --- http ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def _fill(template: Any, event: dict[str, Any]) -> Any:
    """Strings that are a `$.` path become the value it resolves to (a list for several)."""
    if isinstance(template, dict):
        return {key: _fill(value, event) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, event) for value in template]
    if isinstance(template, str) and template.startswith("$"):
        found = resolve(event, template)
        return found[0] if len(found) == 1 else (found or None)
    return template


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def http_request(*, action: dict[str, Any], event: dict[str, Any], delivery_id: int, event_type: str) -> Request:
    """The request an http action sends for an event: `{$.path}` in the URL is filled (URL-quoted), JSON bodies are
    templates (see `_fill`), other bodies are sent as written."""
    url = PLACEHOLDER.sub(lambda m: quote(_text(_fill(m.group(1), event) or ""), safe=""), action["url"])
    template = action.get("body")
    if isinstance(template, str):
        with contextlib.suppress(ValueError):
            template = json.loads(template)
    body = (
        b""
        if template is None
        else (template.encode() if isinstance(template, str) else json.dumps(_fill(template, event)).encode())
    )
    signature = hmac.new(action["secret"].encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": action.get("content_type") or "application/json",
        "event": event_type,
        "event-delivery": str(delivery_id),
        "event-signature": f"sha256={signature}",
        "user-agent": "loyalty-automations/1",
    }
    return Request(method=action["method"], url=url, headers=headers, body=body)


def _address(host: str, port: int) -> str:
    """The address to connect to: resolved once here, and refused when private, loopback, link-local or otherwise
    not public (unless allowed), so a later resolution cannot point the request elsewhere."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DeliveryFailed(f"Cannot resolve {host}: {exc}", retry=True) from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if settings.AUTOMATIONS_HTTP_ALLOW_PRIVATE or address.is_global:
            return str(address)
    raise DeliveryFailed(f"{host} is a private or loopback address; refused.", retry=False)


def http_send(request: Request) -> int:
    """Send it; the response's status, or DeliveryFailed (5xx, 429 and network errors may be retried)."""
    parts = urlsplit(request.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _address(host, port)
    timeout = settings.AUTOMATIONS_HTTP_TIMEOUT
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(host, port, timeout=timeout)
    connection._create_connection = lambda _address, *args, **kwargs: socket.create_connection(  # type: ignore[attr-defined]
        (address, port), timeout
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(request.method, path, body=request.body or None, headers=request.headers)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}", retry=True) from exc
    finally:
        connection.close()
    if status >= 500 or status == 429:
        raise DeliveryFailed(f"The target answered {status}.", retry=True, status=status)
    if status >= 400:
        raise DeliveryFailed(f"The target answered {status}.", retry=False, status=status)
    return status


def delivery_http_begin(*, delivery_id: int) -> Request | None:
    """Count an attempt and build its request; None when the delivery is no longer pending."""
    with transaction.atomic():
        delivery = _pending(delivery_id)
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.updated_at = timezone.now()
        delivery.save(update_fields=["attempts", "updated_at"])
        if delivery.automation.deleted_at is not None:
            _finish(delivery, AutomationDelivery.Status.FAILED, error=AUTOMATION_DELETED)
            return None
        event = delivery.trigger.event
        return http_request(
            action=_action(delivery), event=event.payload, delivery_id=delivery.pk, event_type=event.type
        )


def delivery_http_end(*, delivery_id: int, status: int | None, error: str, failed: bool) -> None:
    """Record an attempt's outcome: done, failed for good, or (neither) still pending for the next attempt."""
    with transaction.atomic():
        delivery = _pending(delivery_id)
        if delivery is None:
            return
        if not failed and not error:
            _finish(delivery, AutomationDelivery.Status.SUCCEEDED, response=status)
        elif failed:
            _finish(delivery, AutomationDelivery.Status.FAILED, error=error, response=status)
        else:
            delivery.error = error[:MAX_ERROR]
            delivery.response_status = status
            delivery.updated_at = timezone.now()
            delivery.save(update_fields=["error", "response_status", "updated_at"])


def delivery_perform(*, delivery_id: int, last_attempt: bool) -> bool:
    """One attempt at a delivery; True when an http action should be tried again later (the task's backoff)."""
    kind = AutomationDelivery.objects.filter(pk=delivery_id).values_list("kind", flat=True).first()
    if kind == AutomationDelivery.Kind.DISCOUNT:
        delivery_give(delivery_id=delivery_id)
        return False
    if kind != AutomationDelivery.Kind.HTTP:
        return False
    request = delivery_http_begin(delivery_id=delivery_id)
    if request is None:
        return False
    try:
        status = http_send(request)
    except DeliveryFailed as exc:
        final = last_attempt or not exc.retry
        delivery_http_end(delivery_id=delivery_id, status=exc.status, error=str(exc), failed=final)
        return not final
    delivery_http_end(delivery_id=delivery_id, status=status, error="", failed=False)
    return False
