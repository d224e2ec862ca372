"""Receipts and customers in the Django admin, read-only and scoped to the user's accounts."""

from django.contrib import admin

from loyalty.accounts.admin import AccountScopedAdmin
from receipts.models import Customer, Receipt


class ReadOnlyScopedAdmin(AccountScopedAdmin):
    """Receipts come from point-of-sale systems: the admin shows them, the API changes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "receipt_id",
        "store_id",
        "customer_id",
        "purchase_at",
        "currency",
        "gross_amount",
        "net_amount",
        "entry_status",
        "account",
    ]
    list_filter = ["entry_status", "currency"]
    search_fields = ["=receipt_id", "=customer_id"]
    date_hierarchy = None  # a date drill-down counts rows per period: too slow on millions of receipts
    show_full_result_count = False
    list_select_related = ["account"]
    ordering = ["-purchase_at"]
    readonly_fields = [f.name for f in Receipt._meta.fields]


@admin.register(Customer)
class CustomerAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "purchases",
        "net_total",
        "last_purchase_at",
        "account",
    ]
    search_fields = ["=customer_id", "=email", "=phone"]
    show_full_result_count = False
    list_select_related = ["account"]
    ordering = ["-last_purchase_at"]
    readonly_fields = [f.name for f in Customer._meta.fields]
