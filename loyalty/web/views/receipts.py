from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from loyalty.web.access import account_view, page
from loyalty.web.errors import domain_errors
from loyalty.web.forms import ReceiptFilterForm
from loyalty.web.receipt_view import printed_receipt
from receipts import selectors as receipts

PER_PAGE = 50
# Counted exactly up to here, "10,000+" beyond: at most this many index entries read per page load.
COUNT_CAP = 10_000


@account_view
def receipt_list(request: HttpRequest) -> HttpResponse:
    account = request.account
    stores = receipts.stores_for_account(account=account)
    form = ReceiptFilterForm(
        request.GET,
        account=account,
        stores=stores,
        statuses=receipts.receipt_statuses(account=account),
    )
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
            "store_names": dict(stores),
            "count": count,
            "nav": "receipts",
        },
        status=200 if form.is_valid() and cursor_error is None else 400,
    )


@account_view
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = receipts.receipt_get(account=request.account, pk=pk)
    return page(
        request,
        "web/receipt.html",
        {"receipt": receipt, "printed": printed_receipt(receipt), "nav": "receipts"},
    )
