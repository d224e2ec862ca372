"""The rule page's "Simulate": a dry run of the rule over past receipts, its progress and its result."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from discounts import selectors as discounts
from discounts.selectors import simulations
from discounts.services.simulations import simulation_start
from loyalty.web.access import account_view, actor, page
from loyalty.web.errors import domain_errors
from loyalty.web.formatting import exponent
from segments import selectors as segments

DEFAULT_DAYS = 90


class SimulateForm(forms.Form):
    period_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    period_to = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    customers = forms.ChoiceField(label="Whose receipts")

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.now().astimezone(account.tz).date()
        self.fields["period_from"].initial = today - timedelta(days=DEFAULT_DAYS)
        self.fields["period_to"].initial = today
        self.fields["customers"].choices = [
            ("*", "Every customer"),
            ("given", "The customers who hold the rule now"),
            *[(f"segment:{s.uuid}", f"Segment: {s.name}") for s in segments.segments_overview(account=account)],
        ]


def simulate_form(account) -> SimulateForm:
    return SimulateForm(account=account)


@account_view
@require_POST
def rule_simulate(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    account = request.account
    rule = discounts.rule_get(account=account, rule_id=str(rule_id))
    form = SimulateForm(request.POST, account=account)
    if form.is_valid():
        data = form.cleaned_data
        tz = account.tz
        with domain_errors(form, fields={"to": "period_to", "from": "period_from"}) as caught:
            simulation = simulation_start(
                account=account,
                rule=rule,
                document=None,
                period_from=datetime.combine(data["period_from"], time(), tz),
                period_to=datetime.combine(data["period_to"] + timedelta(days=1), time(), tz),
                customers=data["customers"],
                actor=actor(request),
            )
        if not caught.failed:
            messages.success(request, "Simulation queued: the receipts of the period are being replayed.")
            return redirect("web:rule-simulation", aid=account.aid, rule_id=rule.pk, simulation_id=simulation.pk)
    messages.error(
        request, "The simulation could not start: " + "; ".join(e for errs in form.errors.values() for e in errs)
    )
    return redirect("web:rule", aid=account.aid, rule_id=rule.pk)


@account_view
def rule_simulation(request: HttpRequest, rule_id: uuid.UUID, simulation_id: uuid.UUID) -> HttpResponse:
    account = request.account
    rule = discounts.rule_get(account=account, rule_id=str(rule_id))
    simulation = simulations.simulation_get(account=account, simulation_id=simulation_id)
    if simulation.rule_id != rule.pk:
        raise simulations.SimulationNotFound()
    result = simulation.result or {}
    scale = 10 ** -exponent(account.currency)
    per_day = result.get("per_day", [])
    return page(
        request,
        "web/simulation.html",
        {
            "rule": rule,
            "simulation": simulation,
            "result": result,
            "period_to_shown": simulation.period_to - timedelta(microseconds=1),
            "chart": {
                "labels": [day["date"] for day in per_day],
                "values": [round(day["cost"] * scale, 2) for day in per_day],
                "label": f"Discount given ({account.currency})",
            },
            "nav": "rules",
        },
    )


@account_view
@require_GET
def rule_simulation_progress(request: HttpRequest, rule_id: uuid.UUID, simulation_id: uuid.UUID) -> JsonResponse:
    simulation = simulations.simulation_get(account=request.account, simulation_id=simulation_id)
    if str(simulation.rule_id) != str(rule_id):
        raise simulations.SimulationNotFound()
    done = simulation.status in ("succeeded", "failed")
    label = (
        "Waiting for a worker…"
        if simulation.status == "queued"
        else f"Replaying receipts… {simulation.receipts_done:,} of {simulation.receipts_total or 0:,}".replace(
            ",", "\u202f"
        )
    )
    return JsonResponse({"status": simulation.status, "progress": simulation.progress, "label": label, "done": done})
