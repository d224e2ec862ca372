"""Mounted under ^v1/accounts/(?P<aid>[PT]\\d{8})/."""

from django.urls import re_path

from receipts import api

SEGMENT = r"[^/]+"

urlpatterns = [
    re_path(r"^receipts$", api.ReceiptsView.as_view(), name="receipts"),
    re_path(r"^receipts/receipt-token$", api.ReceiptTokenView.as_view(), name="receipt-token"),
    re_path(r"^receipts/search$", api.ReceiptSearchView.as_view(), name="receipt-search"),
    re_path(rf"^receipts/all/(?P<receipt_id>{SEGMENT})$", api.ReceiptUpdateView.as_view(), name="receipt-update"),
    re_path(
        rf"^receipts/customers/(?P<customer_id>{SEGMENT})/(?P<receipt_id>{SEGMENT})/change_customer_id$",
        api.ChangeCustomerView.as_view(),
        name="receipt-change-customer",
    ),
    re_path(
        rf"^receipts/customers/(?P<customer_id>{SEGMENT})/(?P<receipt_id>{SEGMENT})$",
        api.CustomerReceiptView.as_view(),
        name="customer-receipt",
    ),
    re_path(
        rf"^receipts/customers/(?P<customer_id>{SEGMENT})$",
        api.CustomerReceiptsView.as_view(),
        name="customer-receipts",
    ),
]
