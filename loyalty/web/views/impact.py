"""The impact panel: did a rule's holdout link make customers buy more? (segment page and rule page).

The report takes up to a second on a large link, so the pages load it after they show (`data-impact-url`, the
`?partial=1` fragment); each URL is also a page of its own, which is where a page without script links to.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from discounts import selectors as discounts
from discounts.impact.report import MIN_CUSTOMERS_PER_SIDE, ImpactReport
from discounts.selectors import impact as impacts
from loyalty.web.access import account_view, page
from loyalty.web.formatting import exponent, whole_money
from segments import selectors as segments


def percent(value: float, *, signed: bool = False) -> str:
    text = f"{abs(value) * 100:.1f} %"
    if not signed:
        return text
    return ("+" if value >= 0 else "\u2212") + text


def _count(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def impact_sentence(report: ImpactReport, *, rule_name: str, currency: str) -> str:
    """What the panel says first, in a merchant's words; plain about when the data cannot tell yet."""
    t, h = report.treatment, report.holdout
    if t.customers + h.customers == 0:
        return (
            "No customer has entered yet: the comparison starts when the segment gives the rule to its first members."
        )
    if not report.enough or report.uplift is None:
        missing = " and nobody in the holdout has bought anything yet" if h.customers and not h.converted else ""
        got = f"{_count(t.customers)} customer{'' if t.customers == 1 else 's'} got it"
        out = f"{_count(h.customers)} {'was' if h.customers == 1 else 'were'} held out"
        return (
            f"Not enough data yet to tell whether {rule_name} works: {got} and {out}{missing}. A comparison needs at "
            f"least {MIN_CUSTOMERS_PER_SIDE} customers on each side and purchases in the holdout."
        )
    lift, net = report.uplift, report.incremental_net_of_discount
    interval = f"95 % CI {percent(lift.low, signed=True)} to {percent(lift.high, signed=True)}"
    direction = "more" if lift.estimate >= 0 else "less"
    if not lift.excludes_zero:
        return (
            f"No clear difference yet: customers who got {rule_name} spent {percent(lift.estimate)} {direction} per "
            f"person than the holdout, but the interval ({interval}) includes no difference at all. Keep the holdout "
            "running to tell."
        )
    worth = ""
    if net is not None:
        worth = (
            f", worth {whole_money(net.estimate, currency)} after the discount"
            if net.estimate >= 0
            else f"; after the discount it cost {whole_money(-net.estimate, currency)} more than it brought"
        )
    return (
        f"Customers who got {rule_name} spent {percent(lift.estimate)} {direction} per person than the holdout "
        f"({interval}){worth}."
    )


def _context(
    request: HttpRequest, *, title: str, links: list, rule_name: str, back: str, back_url: str, chart_id: str
) -> dict[str, Any]:
    account = request.account
    start, end, problems = impacts.period_parse(
        account=account, start=request.GET.get("from") or None, end=request.GET.get("to") or None
    )
    if problems:  # a hand-edited address: the default period instead
        start = end = None
    start, end = impacts.impact_period(links=links, start=start, end=end)
    report = impacts.links_impact(account=account, links=links, start=start, end=end)
    currency = account.currency
    scale = Decimal(1).scaleb(-exponent(currency))
    return {
        "title": title,
        "back": back,
        "back_url": back_url,
        "chart_id": chart_id,
        "chart_json_id": f"impact-data-{chart_id}",
        "report": report,
        "sentence": impact_sentence(report, rule_name=rule_name, currency=currency),
        "start": start,
        "end": end,
        "holdout_percents": sorted({link.holdout_percent for link in links}),
        "chart": {
            "labels": [point.day.isoformat() for point in report.series],
            "treatment": [
                None if v is None else float(Decimal(str(v)) * scale) for v in (p.treatment for p in report.series)
            ],
            "holdout": [
                None if v is None else float(Decimal(str(v)) * scale) for v in (p.holdout for p in report.series)
            ],
            "currency": currency,
        },
        "nav": "segments",
    }


def _render(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    if request.GET.get("partial"):
        return render(request, "web/_impact.html", {"account": request.account, **context})
    return page(request, "web/impact.html", context)


@account_view
def segment_link_impact(request: HttpRequest, segment_id: uuid.UUID, rule_id: uuid.UUID) -> HttpResponse:
    segment = segments.segment_get(account=request.account, segment_id=segment_id)
    link = impacts.push_link_get(account=request.account, segment=segment, rule_id=rule_id)
    if not link.holdout_percent:
        raise Http404("This link has no holdout.")
    name = link.rule.name or str(link.rule_id)
    context = _context(
        request,
        title=f"{name} · {segment.name}",
        links=[link],
        rule_name=name,
        back=segment.name,
        back_url=reverse("web:segment", kwargs={"aid": request.account.aid, "segment_id": segment.uuid}),
        chart_id=f"link-{link.pk}",
    )
    return _render(request, context)


@account_view
def rule_impact(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    rule = discounts.rule_get(account=request.account, rule_id=str(rule_id))
    links = impacts.holdout_links_for_rule(account=request.account, rule=rule)
    if not links:
        raise Http404("No segment feeds this rule with a holdout.")
    name = rule.name or str(rule.pk)
    context = _context(
        request,
        title=name,
        links=links,
        rule_name=name,
        back=name,
        back_url=reverse("web:rule", kwargs={"aid": request.account.aid, "rule_id": rule.pk}),
        chart_id=f"rule-{rule.pk}",
    )
    return _render(request, {**context, "nav": "rules"})
