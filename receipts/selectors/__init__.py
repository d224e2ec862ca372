"""Reads of receipts and customers: `api` (the Dintero Receipts API), `pages` (the back-office receipt pages),
`customers`. Callers use the names re-exported here (`from receipts import selectors as receipts`); the read
models segmentation compiles against are `receipts.readmodels`."""

from receipts.errors import AmbiguousReceipt, InvalidCursor, ReceiptNotFound
from receipts.selectors.api import (
    SEARCH_LIMIT,
    ReceiptPage,
    customer_receipts_page,
    customer_segment_json,
    receipt_by_token,
    receipt_get_by_pos_id,
    receipt_token_check,
    receipts_search,
)
from receipts.selectors.customers import (
    customer_find,
    customer_get,
    customer_pks,
    customer_receipts_recent,
    customer_spend_by_month,
    customer_top_codes,
    customers_activity,
    customers_buying,
    customers_page,
)
from receipts.selectors.pages import (
    CappedCount,
    ReceiptFilters,
    codes_suggest,
    receipt_get,
    receipt_statuses,
    receipts_count,
    receipts_export,
    receipts_page,
    receipts_per_day,
    stores_for_account,
)
from receipts.selectors.paging import KeysetPage

__all__ = [
    "SEARCH_LIMIT",
    "AmbiguousReceipt",
    "CappedCount",
    "InvalidCursor",
    "KeysetPage",
    "ReceiptFilters",
    "ReceiptNotFound",
    "ReceiptPage",
    "codes_suggest",
    "customer_find",
    "customer_get",
    "customer_pks",
    "customer_receipts_page",
    "customer_receipts_recent",
    "customer_segment_json",
    "customer_spend_by_month",
    "customer_top_codes",
    "customers_activity",
    "customers_buying",
    "customers_page",
    "receipt_by_token",
    "receipt_get",
    "receipt_get_by_pos_id",
    "receipt_statuses",
    "receipt_token_check",
    "receipts_count",
    "receipts_export",
    "receipts_page",
    "receipts_per_day",
    "receipts_search",
    "stores_for_account",
]
