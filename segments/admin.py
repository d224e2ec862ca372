"""Segments and their runs in the admin, scoped to the user's accounts; building and editing happen in the
back-office pages (the definition is not a raw JSON field to edit). Every change goes through the segment services,
so activating queues a run, deactivating supersedes queued ones and deleting removes members and ledger set-based."""

from django.contrib import admin, messages
from django.http import Http404

from loyalty.accounts.admin import AccountScopedAdmin
from segments.models import Segment, SegmentRun
from segments.services import segments as services


def _actor(request) -> str:
    return f"user:{request.user.get_username()}"


@admin.register(Segment)
class SegmentAdmin(AccountScopedAdmin):
    list_display = ["name", "account", "active", "customers_count", "calculated_at", "paused_at"]
    list_filter = ["active"]
    search_fields = ["name"]
    fields = ["account", "name", "description", "active"]
    readonly_fields = ["account"]
    list_select_related = ["account"]
    actions = ["activate", "deactivate"]

    def has_add_permission(self, request):
        return False  # the segment builder creates segments

    def save_model(self, request, obj, form, change):
        if not self._can_write(request, obj):
            raise Http404("No such account in your accounts.")
        data = {"name": obj.name, "description": obj.description, "active": obj.active}
        services.segment_update(segment=obj, data=data, actor=_actor(request))
        obj.refresh_from_db()

    def get_deleted_objects(self, objs, request):
        # a segment's runs go with it (segment_delete removes them set-based): they need no delete permission of
        # their own, which the read-only run admin never grants
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms_needed - {SegmentRun._meta.verbose_name}, protected

    def delete_model(self, request, obj):
        services.segment_delete(segment=obj, actor=_actor(request))

    def delete_queryset(self, request, queryset):
        for segment in queryset.select_related("account"):
            services.segment_delete(segment=segment, actor=_actor(request))

    def _set_active(self, request, queryset, active: bool) -> None:
        changed = 0
        for segment in queryset.select_related("account"):
            if self._can_write(request, segment):
                services.segment_set_active(segment=segment, active=active, actor=_actor(request))
                changed += 1
        messages.success(request, f"{changed} segment(s) {'activated' if active else 'deactivated'}.")

    @admin.action(description="Activate (queues a recalculation)", permissions=["change"])
    def activate(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Deactivate", permissions=["change"])
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, False)


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
