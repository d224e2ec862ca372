from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from discounts import selectors as discounts
from discounts import services
from discounts.selectors import simulations
from loyalty.web.access import account_view, actor, page
from loyalty.web.errors import domain_errors
from loyalty.web.forms import RULE_FIELDS, RuleForm
from loyalty.web.views.simulations import simulate_form
from receipts import selectors as receipts

REFS_PER_PAGE = 50


@account_view
def rule_list(request: HttpRequest) -> HttpResponse:
    return page(request, "web/rules.html", {"rules": discounts.rules_overview(account=request.account), "nav": "rules"})


def _form_page(request, form, rule=None, status=200) -> HttpResponse:
    return page(request, "web/rule_form.html", {"form": form, "rule": rule, "nav": "rules"}, status=status)


@account_view
def rule_new(request: HttpRequest) -> HttpResponse:
    stores = receipts.stores_for_account(account=request.account)
    if request.method == "POST":
        form = RuleForm(request.POST, account=request.account, stores=stores)
        if form.is_valid():
            with domain_errors(form, fields=RULE_FIELDS) as caught:
                rule = services.rule_create(account=request.account, document=form.document(), actor=actor(request))
            if not caught.failed:
                messages.success(request, f"Discount rule “{rule.name}” created.")
                return redirect("web:rule", aid=request.account.aid, rule_id=rule.pk)
        return _form_page(request, form, status=400)
    if not request.can_edit:
        return redirect("web:rules", aid=request.account.aid)
    return _form_page(request, RuleForm(account=request.account, stores=stores, initial={"active": True}))


@account_view
def rule_edit(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    rule = discounts.rule_get(account=request.account, rule_id=str(rule_id))
    stores = receipts.stores_for_account(account=request.account)
    if request.method == "POST":
        form = RuleForm(request.POST, account=request.account, stores=stores)
        if form.is_valid():
            with domain_errors(form, fields=RULE_FIELDS) as caught:
                services.rule_update(account=request.account, rule=rule, changes=form.document(), actor=actor(request))
            if not caught.failed:
                messages.success(request, "Discount rule saved.")
                return redirect("web:rule", aid=request.account.aid, rule_id=rule.pk)
        return _form_page(request, form, rule=rule, status=400)
    if not request.can_edit:
        return redirect("web:rule", aid=request.account.aid, rule_id=rule.pk)
    initial = RuleForm.initial_from(rule, request.account)
    return _form_page(request, RuleForm(account=request.account, stores=stores, initial=initial), rule=rule)


@account_view
def rule_detail(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    rule = discounts.rule_get(account=request.account, rule_id=str(rule_id))
    after = request.GET.get("after") or None
    try:
        after_key = uuid.UUID(after) if after else None
    except ValueError:
        after_key = None
    refs = discounts.rule_live_refs_page(account=request.account, rule=rule, limit=REFS_PER_PAGE, after=after_key)
    links = list(discounts.push_links_for_rule(rule=rule))
    return page(
        request,
        "web/rule.html",
        {
            "rule": rule,
            "document": rule.document,
            "refs": refs[:REFS_PER_PAGE],
            "refs_next": str(refs[REFS_PER_PAGE - 1].pk) if len(refs) > REFS_PER_PAGE else None,
            "refs_count": discounts.rule_live_refs_count(account=request.account, rule=rule),
            "links": links,
            "has_holdout": any(link.holdout_percent for link in links),  # the impact panel
            "simulate_form": simulate_form(request.account) if request.can_edit else None,
            "simulations": simulations.simulations_for_rule(account=request.account, rule=rule),
            "nav": "rules",
        },
    )
