from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from discounts import selectors as discounts
from loyalty.web.access import account_view, page
from loyalty.web.errors import domain_errors
from loyalty.web.formatting import exponent, local
from loyalty.web.forms import store_label
from loyalty.web.views.redemptions import customer_refs_with_usage
from receipts import selectors as receipts
from segments import selectors as segments

PER_PAGE = 50
TIMELINE = 50
MAX_MONTHS = 36  # the spend chart's longest history: three years of bars stay readable at 390 px
DAY = "%Y-%m-%d"  # as every date on the pages (the `localdate` filter)

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


def _month_keys(first: str, last: str) -> list[str]:
    """Every month from `first` to `last` ("YYYY-MM"), the last MAX_MONTHS of them."""
    year, month = int(first[:4]), int(first[5:7])
    end_year, end_month = int(last[:4]), int(last[5:7])
    keys = []
    while (year, month) <= (end_year, end_month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys[-MAX_MONTHS:]


def spend_chart(months: list[tuple[str, int, int, int]], *, currency: str, tz, now=None) -> dict:
    """The spend chart's data: every month from the first purchase to this one, a month without purchases as 0 (a
    gap must look like one), net beside gross, in the currency's major units."""
    if not months:
        return {"labels": [], "net": [], "gross": [], "purchases": [], "currency": currency}
    this_month = local(now or timezone.now(), tz, "%Y-%m")
    keys = _month_keys(months[0][0], max(this_month, months[-1][0]))
    by_month = {key: (n, gross, net) for key, n, gross, net in months}
    scale = 10 ** exponent(currency)
    return {
        "labels": keys,
        "purchases": [by_month.get(key, (0, 0, 0))[0] for key in keys],
        "gross": [by_month.get(key, (0, 0, 0))[1] / scale for key in keys],
        "net": [by_month.get(key, (0, 0, 0))[2] / scale for key in keys],
        "currency": currency,
    }


def _member_since(timeline: list[dict]) -> dict:
    """segment id → the day the customer entered it (their open span)."""
    return {t["segment"].pk: t["entered"] for t in timeline if t["current"]}


@account_view
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = request.account
    customer = receipts.customer_get(account=account, pk=pk)
    months = receipts.customer_spend_by_month(customer=customer, tz=account.tz)
    chart = spend_chart(months, currency=account.currency, tz=account.tz)
    timeline = _timeline(account, customer)
    since = _member_since(timeline)
    member_of = list(segments.segments_of_customer(account=account, customer_pk=customer.pk).order_by("name"))
    for segment in member_of:
        segment.member_since = since.get(segment.pk)
    stores = dict(receipts.stores_for_account(account=account))
    recent = receipts.customer_receipts_recent(customer=customer, limit=20)
    for receipt in recent:
        receipt.store_label = store_label(receipt.store_id, stores.get(receipt.store_id))
    return page(
        request,
        "web/customer.html",
        {
            "customer": customer,
            "chart": chart,
            "receipts": recent,
            "segments": member_of,
            "timeline": timeline,
            "top": receipts.customer_top_codes(customer=customer, limit=5),
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
