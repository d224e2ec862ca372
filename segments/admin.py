"""Segments and their runs in the admin, scoped to the user's accounts; building and editing happen in the
back-office pages (the definition is not a raw JSON field to edit)."""

from django.contrib import admin

from loyalty.accounts.admin import AccountScopedAdmin
from segments.models import Segment, SegmentRun


@admin.register(Segment)
class SegmentAdmin(AccountScopedAdmin):
    list_display = ["name", "account", "active", "customers_count", "calculated_at", "paused_at"]
    list_filter = ["active"]
    search_fields = ["name"]
    fields = ["account", "name", "description", "active"]
    readonly_fields = ["account"]
    list_select_related = ["account"]

    def has_add_permission(self, request):
        return False  # the segment builder creates segments


@admin.register(SegmentRun)
class SegmentRunAdmin(AccountScopedAdmin):
    account_field = "segment__account"
    list_display = ["segment", "trigger", "scope", "status", "progress", "members", "added", "removed", "created_at"]
    list_filter = ["status", "trigger", "scope"]
    list_select_related = ["segment"]
    readonly_fields = [f.name for f in SegmentRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
