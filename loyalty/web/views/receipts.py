from __future__ import annotations

from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from loyalty.web.access import account_view, page
from loyalty.web.actors import actor_names
from loyalty.web.csv_export import csv_response
from loyalty.web.errors import domain_errors
from loyalty.web.formatting import exponent
from loyalty.web.forms import ReceiptFilterForm, store_label
from loyalty.web.receipt_view import printed_receipt
from receipts import selectors as receipts

PER_PAGE = 50
# Counted exactly up to here, "10,000+" beyond: at most this many index entries read per page load.
COUNT_CAP = 10_000
# Receipts read per query of an export: one keyset page in memory at a time.
EXPORT_CHUNK = 1_000
EXPORT_HEADER = [
    *("purchased_at", "receipt_id", "store_id", "store_name", "customer_id"),
    *("items", "currency", "gross", "net", "status"),
]


def _filter_form(request: HttpRequest, stores: list[tuple[str, str]]) -> ReceiptFilterForm:
    account = request.account
    return ReceiptFilterForm(
        request.GET, account=account, stores=stores, statuses=receipts.receipt_statuses(account=account)
    )


def _major(minor: int | None, currency: str) -> str:
    """An amount as a plain decimal number in major units ("1234.50"), as spreadsheets read numbers."""
    return "" if minor is None else f"{Decimal(minor).scaleb(-exponent(currency)):.{exponent(currency)}f}"


@account_view
def receipt_list(request: HttpRequest) -> HttpResponse:
    return _list_page(request)


def _list_page(request: HttpRequest) -> HttpResponse:
    account = request.account
    stores = receipts.stores_for_account(account=account)
    form = _filter_form(request, stores)
    result = None
    count = None
    cursor_error = None
    if form.is_valid():
        filters = form.filters(search_personal_data=request.can_see_personal_data)
        count = receipts.receipts_count(account=account, filters=filters, cap=COUNT_CAP)
        # a cursor from another list or a mangled URL: said above the empty list, with a way back to the newest
        with domain_errors() as caught:
            result = receipts.receipts_page(
                account=account,
                filters=filters,
                limit=PER_PAGE,
                after=request.GET.get("after") or None,
                before=request.GET.get("before") or None,
            )
        cursor_error = caught.message
    filtered = any(
        request.GET.get(name) for name in ("q", "store", "from", "to", "status", "currency", "customer", "min", "max")
    )
    return page(
        request,
        "web/receipts.html",
        {
            "form": form,
            "result": result,
            "cursor_error": cursor_error,
            "filtered": filtered,
            "store_labels": {sid: store_label(sid, name) for sid, name in stores},
            "count": count,
            "nav": "receipts",
        },
        status=200 if form.is_valid() and cursor_error is None else 400,
    )


@account_view
@require_GET
def receipt_export(request: HttpRequest) -> HttpResponse:
    """The list as CSV, with the page's filters, every matching receipt (not one page), streamed."""
    account = request.account
    stores = receipts.stores_for_account(account=account)
    form = _filter_form(request, stores)
    if not form.is_valid():
        return _list_page(request)  # the page, its errors next to the fields (a 400)
    filters = form.filters(search_personal_data=request.can_see_personal_data)
    names = dict(stores)
    tz = account.tz
    rows = (
        [
            r.purchase_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            *(r.receipt_id, r.store_id, names.get(r.store_id, ""), r.customer_id or "", r.item_count, r.currency),
            *(_major(r.gross_amount, r.currency), _major(r.net_amount, r.currency), r.entry_status),
        ]
        for r in receipts.receipts_export(account=account, filters=filters, chunk=EXPORT_CHUNK)
    )
    filename = f"receipts-{account.aid}-{timezone.now().astimezone(tz):%Y-%m-%d}.csv"
    return csv_response(filename=filename, header=EXPORT_HEADER, rows=rows)


@account_view
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = receipts.receipt_get(account=request.account, pk=pk)
    return page(
        request,
        "web/receipt.html",
        {
            "receipt": receipt,
            "printed": printed_receipt(receipt),
            "stored_by": actor_names(account=request.account, actors=[receipt.created_by]).get(receipt.created_by),
            "nav": "receipts",
        },
    )
