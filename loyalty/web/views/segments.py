from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from discounts import pushes
from discounts import selectors as discounts
from discounts.selectors import holdouts
from loyalty.web.access import account_view, actor, page, read_only
from loyalty.web.criteria_ui import catalogue
from loyalty.web.csv_export import csv_response
from loyalty.web.errors import domain_errors
from loyalty.web.formatting import exponent, local
from loyalty.web.forms import RULE_FIELDS, PushForm, SegmentListForm, store_label
from loyalty.web.views.customers import reason_words
from receipts import selectors as receipts
from segments import selectors
from segments.models import SegmentRun
from segments.services import preview as previews
from segments.services import segments as services
from segments.services.freshness import segment_freshness

MEMBERS_PER_PAGE = 25
MAX_DEFINITION_BYTES = 2_000_000
FORM_FIELDS = ("name", "description")


@account_view
def segment_list(request: HttpRequest) -> HttpResponse:
    form = SegmentListForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    segments = selectors.segments_list(
        account=request.account,
        search=data.get("q") or None,
        state=data.get("state") or None,
        order=data.get("sort") or "name",
    )
    filtered = bool(data.get("q") or data.get("state"))
    return page(
        request,
        "web/segments.html",
        {"segments": segments, "form": form, "filtered": filtered, "nav": "segments"},
    )


def _parse_parts(raw: str) -> tuple[Any, list[tuple[str, str]]]:
    if len(raw) > MAX_DEFINITION_BYTES:
        return [], [("parts", "The definition is too large.")]
    try:
        parts = json.loads(raw or "[]")
    except ValueError:
        return [], [("parts", "The definition could not be read; reload the page and try again.")]
    return parts, []


def _builder(request: HttpRequest, *, segment=None, values=None, errors=None, status: int = 200) -> HttpResponse:
    values = values or {
        "name": segment.name if segment else "",
        "description": segment.description if segment else "",
        "parts": services._public(segment.definition.get("parts", [])) if segment else [],
    }
    errors = errors or []
    field_errors = {path: message for path, message in errors if not path.startswith("parts")}
    # a problem neither an input nor the builder shows (a definition's problems all have a path) still reaches the page
    general = [f"{p}: {m}" if p else m for p, m in errors if not p.startswith("parts") and p not in FORM_FIELDS]
    return page(
        request,
        "web/segment_form.html",
        {
            "segment": segment,
            "values": values,
            "field_errors": field_errors,
            "general_errors": general,
            "builder": {
                "parts": values["parts"],
                "errors": [{"path": p, "message": m} for p, m in errors if p.startswith("parts")],
                "catalogue": catalogue(
                    stores=receipts.stores_for_account(account=request.account), currency=request.account.currency
                ),
            },
            "nav": "segments",
        },
        status=status,
    )


def _save(request: HttpRequest, segment=None) -> HttpResponse:
    parts, errors = _parse_parts(request.POST.get("parts", ""))
    values = {
        "name": request.POST.get("name", ""),
        "description": request.POST.get("description", ""),
        "parts": parts,
    }
    if errors:
        return _builder(request, segment=segment, values=values, errors=errors, status=400)
    with domain_errors() as caught:
        if segment is None:
            saved = services.segment_create(account=request.account, data=values, actor=actor(request))
        else:
            saved = services.segment_update(
                segment=segment, data={**values, "active": segment.active}, actor=actor(request)
            )
    if caught.failed:
        return _builder(request, segment=segment, values=values, errors=caught.problems(), status=400)
    messages.success(request, f"Segment “{saved.name}” saved; it is being calculated.")
    return redirect("web:segment", aid=request.account.aid, segment_id=saved.uuid)


@account_view
def segment_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request)
    if not request.can_edit:
        return read_only(request, "web:segments")
    return _builder(request)


@account_view
def segment_edit(request: HttpRequest, segment_id) -> HttpResponse:
    segment = selectors.segment_get(account=request.account, segment_id=segment_id)
    if request.method == "POST":
        return _save(request, segment)
    if not request.can_edit:
        return read_only(request, "web:segment", segment_id=segment.uuid)
    return _builder(request, segment=segment)


@account_view
@require_POST
def segment_preview(request: HttpRequest) -> JsonResponse:
    if len(request.body) > MAX_DEFINITION_BYTES:
        return JsonResponse({"error": "The definition is too large."}, status=413)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": "The body must be JSON."}, status=400)
    parts = body.get("parts") if isinstance(body, dict) else None
    preparation = previews.preview_prepare(account=request.account, parts=parts)
    result = selectors.definition_preview(account=request.account, parts=parts, preparation=preparation)
    return JsonResponse({**result, "errors": [{"path": p, "message": m} for p, m in result["errors"]]})


@account_view
@require_GET
def suggest(request: HttpRequest) -> JsonResponse:
    kind = request.GET.get("kind", "")
    if kind not in ("item", "group", "label", "maker"):
        return JsonResponse({"error": "kind must be item, group, label or maker"}, status=400)
    text = request.GET.get("q", "")[:100]
    values = receipts.codes_suggest(account=request.account, kind=kind, text=text)
    return JsonResponse({"results": [{"value": v, "name": n} for v, n in values]})


def _run_label(run: SegmentRun | None) -> str:
    if run is None:
        return "Up to date"
    if run.status == SegmentRun.Status.QUEUED:
        return "Waiting for a worker…"
    return f"Calculating… {run.progress}%"


def _detail(request: HttpRequest, segment, *, push_form: PushForm | None = None, status: int = 200) -> HttpResponse:
    account = request.account
    search = request.GET.get("q", "").strip()[:255]
    holdout_links = list(holdouts.holdout_links_for_segment(segment=segment))
    # "held out of" filter: one of the segment's holdout links, by rule id (anything else lists every member)
    held_out_of = next((link for link in holdout_links if str(link.rule_id) == request.GET.get("held_out")), None)
    members, more = selectors.segment_members_page(
        segment=segment,
        search=search or None,
        limit=MEMBERS_PER_PAGE,
        after=request.GET.get("after") or None,
        search_personal_data=request.can_see_personal_data,
        within=holdouts.held_out_customers(link=held_out_of) if held_out_of else None,
    )
    history = selectors.segment_size_history(segment=segment)
    open_run = selectors.segment_open_run(segment=segment)
    recent_pushes = list(discounts.push_runs_for_segment(segment=segment)[:10])
    return page(
        request,
        "web/segment.html",
        {
            "segment": segment,
            "freshness": segment_freshness(segment=segment),
            "open_run": open_run,
            "run_label": _run_label(open_run) if open_run else "Pushing to discount rules…",
            "runs": list(selectors.segment_runs(segment=segment)[:15]),
            "movements": [
                {"event": event, "at": local(event.at, account.tz), "reason": reason_words(event.reason)}
                for event in selectors.segment_membership_events(segment=segment)
            ],
            "chart": {
                "labels": [r.finished_at.astimezone(account.tz).strftime("%Y-%m-%d %H:%M") for r in history],
                "values": [r.members for r in history],
                "label": "Customers",
            },
            "members": members,
            "members_more": more,
            "q": search,
            "parts": services._public(segment.definition.get("parts", [])),
            "store_labels": {sid: store_label(sid, name) for sid, name in receipts.stores_for_account(account=account)},
            "push_form": push_form or PushForm(account=account, rules=_live_rules(account, names_only=True)),
            "pushes": recent_pushes,
            "pushes_open": any(p.status in ("queued", "running") for p in recent_pushes),
            "links": list(discounts.push_links_for_segment(segment=segment)),
            "holdout_links": holdout_links,
            "held_out_of": held_out_of,
            "nav": "segments",
        },
        status=status,
    )


def _live_rules(account, *, names_only: bool = False) -> list:
    """The rules a segment can be pushed onto. The page's picker needs only their names: an account's 2,000 rules
    with their documents cost the segment page ~100 ms to read, a push needs the chosen one whole."""
    rules = discounts.rules_for_account(account=account).filter(deleted_at__isnull=True).order_by("name")
    return list(rules.only("id", "name") if names_only else rules)


@account_view
def segment_detail(request: HttpRequest, segment_id) -> HttpResponse:
    return _detail(request, selectors.segment_get(account=request.account, segment_id=segment_id))


@account_view
@require_GET
def segment_progress(request: HttpRequest, segment_id) -> JsonResponse:
    segment = selectors.segment_get(account=request.account, segment_id=segment_id)
    run = selectors.segment_open_run(segment=segment)
    open_pushes = discounts.push_runs_for_segment(segment=segment).filter(status__in=["queued", "running"]).exists()
    return JsonResponse(
        {
            "status": run.status if run else "idle",
            "progress": run.progress if run else 100,
            "label": _run_label(run) if run or not open_pushes else "Pushing to discount rules…",
            "done": run is None and not open_pushes,
            "customersCount": segment.customers_count,
        }
    )


@account_view
@require_POST
def segment_set_active(request: HttpRequest, segment_id) -> HttpResponse:
    segment = selectors.segment_get(account=request.account, segment_id=segment_id)
    active = request.POST.get("active") == "true"
    services.segment_set_active(segment=segment, active=active, actor=actor(request))
    messages.success(request, "Segment activated; it is being calculated." if active else "Segment deactivated.")
    return redirect("web:segment", aid=request.account.aid, segment_id=segment.uuid)


@account_view
@require_POST
def segment_refresh(request: HttpRequest, segment_id) -> HttpResponse:
    segment = selectors.segment_get(account=request.account, segment_id=segment_id)
    trigger = SegmentRun.Trigger.RETRY if request.POST.get("retry") else SegmentRun.Trigger.MANUAL
    services.segment_refresh(segment=segment, actor=actor(request), trigger=trigger)
    messages.success(request, "Recalculation queued.")
    return redirect("web:segment", aid=request.account.aid, segment_id=segment.uuid)


@account_view
def segment_delete(request: HttpRequest, segment_id) -> HttpResponse:
    segment = selectors.segment_get(account=request.account, segment_id=segment_id)
    if request.method == "POST":
        name = segment.name
        services.segment_delete(segment=segment, actor=actor(request))
        messages.success(request, f"Segment “{name}” deleted.")
        return redirect("web:segments", aid=request.account.aid)
    if not request.can_edit:
        return read_only(request, "web:segment", segment_id=segment.uuid)
    return page(
        request,
        "web/segment_delete.html",
        {"segment": segment, "rules": list(discounts.pushed_rules_for_segment(segment=segment)), "nav": "segments"},
    )


def _export_rows(segment, account, extra):
    """Members as the export shows them: member since in the account's time, amounts in major units (as numbers
    a spreadsheet adds up)."""
    scale = exponent(account.currency)
    for row in selectors.segment_members_export(segment=segment, extra=extra):
        *person, since, purchases, net, gross = row[: len(row) - len(extra)]
        yield [
            *person,
            local(since, account.tz, "%Y-%m-%d %H:%M") if since else "",
            purchases,
            Decimal(net).scaleb(-scale),
            Decimal(gross).scaleb(-scale),
            *row[len(row) - len(extra) :],
        ]


@account_view
@require_GET
def segment_export(request: HttpRequest, segment_id) -> StreamingHttpResponse:
    if not request.can_see_personal_data:
        # the export is names, e-mails and phones and nothing else: a viewer has nothing to take from it
        raise PermissionDenied("Viewers cannot export customers' personal data.")
    segment = selectors.segment_get(account=request.account, segment_id=segment_id)
    currency = request.account.currency
    # a segment feeding a rule with a holdout adds who is held out of which rule, and since when
    extra = {}
    if holdouts.holdout_links_for_segment(segment=segment).exists():
        extra = {"held_out_of": holdouts.held_out_of_column(segment=segment)}
    return csv_response(
        filename=f"{segment.name}.csv",
        header=[
            "customer_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "member_since",
            "purchases",
            f"net_spend_{currency}",
            f"gross_spend_{currency}",
            *extra,
        ],
        rows=_export_rows(segment, request.account, extra),
    )


@account_view
@require_POST
def segment_push(request: HttpRequest, segment_id) -> HttpResponse:
    account = request.account
    segment = selectors.segment_get(account=account, segment_id=segment_id)
    form = PushForm(request.POST, account=account, rules=_live_rules(account))
    if form.is_valid():
        data = form.cleaned_data
        # a push once holds out nobody of its own (the rule's link, if any, still keeps its held-out members out)
        holdout = data["holdout_percent"] if data["mode"] == "sync" else None
        with domain_errors(form, fields={**RULE_FIELDS, "holdoutPercent": "holdout_percent"}) as caught:
            if data["rule"] == PushForm.NEW:
                pushes.segment_push_to_new_rule(
                    account=account,
                    segment=segment,
                    document=form.rule_document(),
                    mode=data["mode"],
                    remove_departed=data["remove_departed"],
                    actor=actor(request),
                    holdout_percent=holdout,
                )
            else:
                pushes.segment_push_start(
                    account=account,
                    segment=segment,
                    rule=form.chosen_rule(),
                    mode=data["mode"],
                    remove_departed=data["remove_departed"],
                    actor=actor(request),
                    holdout_percent=holdout,
                )
        if not caught.failed:
            messages.success(request, "Push queued.")
            return redirect("web:segment", aid=account.aid, segment_id=segment.uuid)
    return _detail(request, segment, push_form=form, status=400)


@account_view
@require_POST
def segment_unlink(request: HttpRequest, segment_id, rule_id) -> HttpResponse:
    account = request.account
    segment = selectors.segment_get(account=account, segment_id=segment_id)
    rule = discounts.rule_get(account=account, rule_id=str(rule_id))
    if pushes.push_link_remove(account=account, segment=segment, rule=rule, actor=actor(request)):
        messages.success(request, f"“{rule.name or rule.pk}” no longer follows this segment; customers keep it.")
    return redirect("web:segment", aid=account.aid, segment_id=segment.uuid)
