"""Automation pages: the list, an automation (its filter in words, live counters, the last deliveries with a retry
for failed ones), and deleting one. Automations are created through the API."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from discounts import selectors as discounts
from discounts.selectors import automations as selectors
from discounts.services import automations as services
from loyalty.web.access import account_view, actor, page
from loyalty.web.formatting import money


@account_view
def automation_list(request: HttpRequest) -> HttpResponse:
    rows = [
        {"automation": a, "events": selectors.events_in_words(a.events)}
        for a in selectors.automations_overview(account=request.account)
    ]
    return page(request, "web/automations.html", {"rows": rows, "nav": "rules"})


def _actions(request: HttpRequest, automation) -> list[dict]:
    actions = []
    for action in automation.document["actions"]:
        if action["type"] == "discount":
            rule = discounts.rule_find(account=request.account, rule_id=str(action["id"]))
            actions.append({"type": "discount", "rule": rule, "id": action["id"]})
        else:
            actions.append({"type": "http", "method": action["method"], "url": action["url"]})
    return actions


@account_view
def automation_detail(request: HttpRequest, automation_id: uuid.UUID) -> HttpResponse:
    automation = selectors.automation_get(account=request.account, automation_id=automation_id, deleted_too=True)
    requirement = automation.document["requirement"]
    return page(
        request,
        "web/automation.html",
        {
            "automation": automation,
            "events": selectors.events_in_words(automation.events),
            "filter_lines": selectors.filter_in_words(
                requirement.get("filter"), amount=lambda minor: money(minor, request.account.currency)
            ),
            "actions": _actions(request, automation),
            "counts": selectors.counts_in_words(
                selectors.automation_counts(account=request.account, automation=automation)
            ),
            "deliveries": selectors.automation_deliveries(account=request.account, automation=automation),
            "nav": "rules",
        },
    )


@account_view
def automation_counts(request: HttpRequest, automation_id: uuid.UUID) -> JsonResponse:
    automation = selectors.automation_get(account=request.account, automation_id=automation_id, deleted_too=True)
    counts = selectors.automation_counts(account=request.account, automation=automation)
    return JsonResponse({"counts": counts, "display": selectors.counts_in_words(counts)})


@account_view
@require_POST
def automation_delete(request: HttpRequest, automation_id: uuid.UUID) -> HttpResponse:
    services.automation_delete(account=request.account, automation_id=automation_id, actor=actor(request))
    messages.success(request, "Automation deleted. Customers keep what it gave them.")
    return redirect("web:automation", aid=request.account.aid, automation_id=automation_id)


@account_view
@require_POST
def automation_delivery_retry(request: HttpRequest, automation_id: uuid.UUID, delivery_id: int) -> HttpResponse:
    automation = selectors.automation_get(account=request.account, automation_id=automation_id, deleted_too=True)
    services.automation_delivery_retry(account=request.account, delivery_id=delivery_id, actor=actor(request))
    messages.success(request, "The action will be tried again.")
    return redirect("web:automation", aid=request.account.aid, automation_id=automation.pk)
