from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from discounts import selectors as discounts
from discounts import services
from discounts.selectors import campaigns as campaign_selectors
from discounts.selectors import simulations
from discounts.services.duplicate import rule_duplicate
from loyalty.web.access import account_view, actor, page, read_only
from loyalty.web.actors import actor_names
from loyalty.web.errors import domain_errors
from loyalty.web.forms import RULE_FIELDS, RuleDuplicateForm, RuleForm, store_label
from loyalty.web.views.redemptions import rule_redemptions_context
from loyalty.web.views.simulations import simulate_form
from receipts import selectors as receipts

REFS_PER_PAGE = 50


@account_view
def rule_list(request: HttpRequest) -> HttpResponse:
    return page(request, "web/rules.html", {"rules": discounts.rules_overview(account=request.account), "nav": "rules"})


def _form_page(request, form, rule=None, status=200, duplicate=False) -> HttpResponse:
    context = {"form": form, "rule": rule, "duplicate": duplicate, "nav": "rules"}
    if duplicate:
        context["links"] = list(discounts.push_links_for_rule(rule=rule))
    return page(request, "web/rule_form.html", context, status=status)


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
        return read_only(request, "web:rules")
    return _form_page(request, RuleForm(account=request.account, stores=stores, initial={"active": True}))


@account_view
def rule_edit(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    """Reward and start stay as they are, as in the API's PUT: the form shows them, the update leaves them out."""
    rule = discounts.rule_get(account=request.account, rule_id=str(rule_id))
    stores = receipts.stores_for_account(account=request.account)
    initial = RuleForm.initial_from(rule, request.account)
    if request.method == "POST":
        form = RuleForm(request.POST, account=request.account, stores=stores, initial=initial, fixed=True)
        if form.is_valid():
            with domain_errors(form, fields=RULE_FIELDS) as caught:
                services.rule_update(
                    account=request.account,
                    rule=rule,
                    changes=form.changes_from(rule.document),
                    actor=actor(request),
                    start_and_reward_fixed=True,
                )
            if not caught.failed:
                messages.success(request, "Discount rule saved.")
                return redirect("web:rule", aid=request.account.aid, rule_id=rule.pk)
        return _form_page(request, form, rule=rule, status=400)
    if not request.can_edit:
        return read_only(request, "web:rule", rule_id=rule.pk)
    return _form_page(request, RuleForm(account=request.account, stores=stores, initial=initial, fixed=True), rule=rule)


@account_view
def rule_duplicate_page(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    """Duplicate with changes: a new rule from this one's values, the old one deactivated and its links moved."""
    rule = discounts.rule_get(account=request.account, rule_id=str(rule_id))
    stores = receipts.stores_for_account(account=request.account)
    if request.method == "POST":
        form = RuleDuplicateForm(request.POST, account=request.account, stores=stores)
        if form.is_valid():
            with domain_errors(form, fields=RULE_FIELDS) as caught:
                created = rule_duplicate(
                    account=request.account,
                    rule=rule,
                    document=form.document_from(rule.document),
                    actor=actor(request),
                    deactivate_source=form.cleaned_data["deactivate_source"],
                    move_links=form.cleaned_data["move_links"],
                )
            if not caught.failed:
                messages.success(request, f"Discount rule “{created.name}” created from “{rule.name}”.")
                return redirect("web:rule", aid=request.account.aid, rule_id=created.pk)
        return _form_page(request, form, rule=rule, status=400, duplicate=True)
    if not request.can_edit:
        return read_only(request, "web:rule", rule_id=rule.pk)
    initial = {**RuleForm.initial_from(rule, request.account), "deactivate_source": True, "move_links": True}
    form = RuleDuplicateForm(account=request.account, stores=stores, initial=initial)
    return _form_page(request, form, rule=rule, duplicate=True)


@account_view
def rule_detail(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    rule = discounts.rule_get(account=request.account, rule_id=str(rule_id))
    after = request.GET.get("after") or None
    try:
        after_key = uuid.UUID(after) if after else None
    except ValueError:
        after_key = None
    refs = discounts.rule_live_refs_page(account=request.account, rule=rule, limit=REFS_PER_PAGE, after=after_key)
    names = actor_names(account=request.account, actors={rule.created_by, *(ref.created_by for ref in refs)})
    customers = receipts.customer_pks(account=request.account, customer_ids=[ref.customer_id for ref in refs])
    for ref in refs:
        ref.given_by = names.get(ref.created_by, ref.created_by)
        ref.customer_pk = customers.get(ref.customer_id)
    store_names = dict(receipts.stores_for_account(account=request.account))
    stores = [
        store_label(sid, store_names.get(sid)) for sid in rule.document.get("requirement", {}).get("store_ids", [])
    ]
    links = list(discounts.push_links_for_rule(rule=rule))
    return page(
        request,
        "web/rule.html",
        {
            "rule": rule,
            "document": rule.document,
            "refs": refs[:REFS_PER_PAGE],
            "created_by": names.get(rule.created_by, rule.created_by),
            "stores": stores,
            "refs_next": str(refs[REFS_PER_PAGE - 1].pk) if len(refs) > REFS_PER_PAGE else None,
            "refs_count": discounts.rule_live_refs_count(account=request.account, rule=rule),
            "links": links,
            "has_holdout": any(link.holdout_percent for link in links),  # the impact panel
            "campaign": campaign_selectors.campaign_for_key(account=request.account, key=rule.campaign_id),
            "simulate_form": simulate_form(request.account) if request.can_edit else None,
            "simulations": simulations.simulations_for_rule(account=request.account, rule=rule),
            "nav": "rules",
            **rule_redemptions_context(account=request.account, rule=rule),
        },
    )
