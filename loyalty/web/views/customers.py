from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from discounts import selectors as discounts
from loyalty.web.access import account_view, page
from loyalty.web.errors import domain_errors
from loyalty.web.formatting import exponent, local
from loyalty.web.views.redemptions import customer_refs_with_usage
from receipts import selectors as receipts
from segments import selectors as segments

PER_PAGE = 50
TIMELINE = 50
DAY = "%-d %b %Y"  # 3 May 2025

# the membership ledger's reasons in plain words
REASON_WORDS = {
    "definition_change": "definition changed",
    "new_receipts": "new receipts",
    "time_window": "time window",
    "manual": "recalculated by hand",
}


def reason_words(reason: str) -> str:
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def _timeline(account, customer) -> list[dict]:
    """The customer's memberships as the page says them: in a segment since, or left it on, and why."""
    spans = segments.customer_memberships_by_pk(account=account, customer_pk=customer.pk)[:TIMELINE]
    return [
        {
            "segment": span.segment,
            "current": span.left_at is None,
            "entered": local(span.entered_at, account.tz, DAY),
            "entered_reason": reason_words(span.entered_reason),
            "left": local(span.left_at, account.tz, DAY) if span.left_at else None,
            "left_reason": reason_words(span.left_reason) if span.left_at else None,
        }
        for span in spans
    ]


@account_view
def customer_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:255]
    query = {
        "account": request.account,
        "search": search or None,
        "limit": PER_PAGE,
        "search_personal_data": request.can_see_personal_data,
    }
    # a cursor that is not one of this list's starts over from the first page
    with domain_errors() as caught:
        result = receipts.customers_page(**query, after=request.GET.get("after") or None)
    if caught.failed:
        result = receipts.customers_page(**query, after=None)
    return page(request, "web/customers.html", {"result": result, "q": search, "nav": "customers"})


@account_view
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = request.account
    customer = receipts.customer_get(account=account, pk=pk)
    months = receipts.customer_spend_by_month(customer=customer, tz=account.tz)
    scale = 10 ** exponent(account.currency)
    chart = {
        "labels": [m for m, _, _ in months],
        "values": [gross / scale for _, _, gross in months],
        "label": f"Spend ({account.currency})",
    }
    return page(
        request,
        "web/customer.html",
        {
            "customer": customer,
            "chart": chart,
            "receipts": receipts.customer_receipts_recent(customer=customer, limit=20),
            "segments": list(segments.segments_of_customer(account=account, customer_pk=customer.pk).order_by("name")),
            "timeline": _timeline(account, customer),
            "rules": customer_refs_with_usage(
                account=account,
                customer_id=customer.customer_id,
                refs=discounts.customer_rules(
                    account=account, customer_id=customer.customer_id, limit=50, starting_after=None
                ),
            ),
            "nav": "customers",
        },
    )
