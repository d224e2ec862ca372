"""Admin for accounts, plus `AccountScopedAdmin`, the base every app's admin uses to stay inside the user's accounts."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import Http404

from loyalty.accounts import services
from loyalty.accounts.models import Account, ApiClient, Membership
from loyalty.accounts.scopes import CLIENT_SCOPES, Role
from loyalty.accounts.services import api_client_create, api_client_revoke
from loyalty.core.services import audit_record

WRITE_ROLES: set[str] = {Role.OWNER, Role.EDITOR}


def user_roles(request) -> dict[int, str]:
    """account pk → role for the signed-in user, cached on the request."""
    cached = getattr(request, "_loyalty_roles", None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=request.user).values_list("account_id", "role"))
        request._loyalty_roles = cached
    return cached


class AccountScopedAdmin(admin.ModelAdmin):
    """Shows and changes only rows of the user's accounts; viewers read, editors and owners write.

    Another account's object answers 404, not the admin's usual redirect, so its existence does not leak.
    """

    account_field = "account"
    write_roles: set[str] = WRITE_ROLES

    def _account_ids(self, request, roles: set[str] | None = None) -> list[int]:
        return [pk for pk, role in user_roles(request).items() if roles is None or role in roles]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.account_field}__in": self._account_ids(request)})

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object in your accounts.")
        return obj

    def _account_of(self, obj) -> int | None:
        value = obj
        for part in self.account_field.split("__"):
            value = getattr(value, part, None)
        return getattr(value, "pk", value)

    def has_module_permission(self, request):
        return request.user.is_active and (request.user.is_superuser or bool(user_roles(request)))

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def _can_write(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        allowed = self._account_ids(request, self.write_roles)
        if obj is None:
            return bool(allowed)
        return self._account_of(obj) in allowed

    def has_add_permission(self, request):
        return self._can_write(request)

    def has_change_permission(self, request, obj=None):
        return self._can_write(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._can_write(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == self.account_field and not request.user.is_superuser:
            kwargs["queryset"] = Account.objects.filter(pk__in=self._account_ids(request, self.write_roles))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # A crafted POST cannot move an object into an account the user may not write.
        if not self._can_write(request, obj):
            raise Http404("No such account in your accounts.")
        super().save_model(request, obj, form, change)

    # Every change made in the admin is also an AuditEvent (who, when, which object), next to Django's own log.
    def log_addition(self, request, obj, message):
        self._audit(request, obj, "admin.add")
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "admin.change")
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "admin.delete")
        return super().log_deletions(request, queryset)

    def _audit(self, request, obj, action: str) -> None:
        account_pk = self._account_of(obj)
        audit_record(
            account=Account.objects.filter(pk=account_pk).first() if account_pk else None,
            actor=f"user:{request.user.get_username()}",
            action=action,
            object_type=obj._meta.label,
            object_id=str(obj.pk),
        )


class ServiceWritesAdmin(AccountScopedAdmin):
    """Saves and deletes (one or a selection) through the accounts services, never the ORM directly."""

    def save_model(self, request, obj, form, change):
        if not self._can_write(request, obj):
            raise Http404("No such account in your accounts.")
        self.save_through_service(obj)

    def delete_model(self, request, obj):
        self.delete_through_service(obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_through_service(obj)

    def save_through_service(self, obj) -> None:
        raise NotImplementedError

    def delete_through_service(self, obj) -> None:
        raise NotImplementedError


@admin.register(Account)
class AccountAdmin(ServiceWritesAdmin):
    account_field = "pk"
    write_roles = {Role.OWNER}
    list_display = ["aid", "name", "currency", "timezone", "created_at"]
    search_fields = ["aid", "name"]

    def _account_of(self, obj):
        return obj.pk

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_through_service(self, obj) -> None:
        services.account_save(account=obj)

    def delete_through_service(self, obj) -> None:
        services.account_delete(account=obj)


class ApiClientAddForm(forms.ModelForm):
    scope_choices = forms.MultipleChoiceField(
        choices=[(name, f"{name}: {text}") for name, text in CLIENT_SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
        label="Scopes",
    )

    class Meta:
        model = ApiClient
        fields = ["account", "name"]


@admin.register(ApiClient)
class ApiClientAdmin(ServiceWritesAdmin):
    write_roles = {Role.OWNER}
    list_display = ["name", "account", "client_id", "active", "scope_list", "last_used_at", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "client_id"]
    readonly_fields = ["client_id", "scopes", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scope_list(self, obj) -> str:
        return " ".join(obj.scopes)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiClientAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["account", "name", "scope_choices"]
        return ["account", "name", "active", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "account"] if obj else []

    def save_through_service(self, obj) -> None:
        services.api_client_save(client=obj)

    def delete_through_service(self, obj) -> None:
        services.api_client_delete(client=obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        if not self._can_write(request, obj):
            raise Http404("No such account in your accounts.")
        client, secret = api_client_create(
            account=obj.account,
            name=obj.name,
            scopes=form.cleaned_data["scope_choices"],
            created_by=f"user:{request.user.get_username()}",
        )
        obj.pk = client.pk
        obj.client_id = client.client_id
        messages.warning(
            request,
            f"Client {client.client_id} created. Its secret, shown only now: {secret}",
        )

    @admin.action(description="Revoke the selected clients")
    def revoke(self, request, queryset):
        for client in queryset:
            if self._can_write(request, client):
                api_client_revoke(client=client, actor=f"user:{request.user.get_username()}")
        self.message_user(request, "Revoked. Their tokens stop working at once.")


@admin.register(Membership)
class MembershipAdmin(ServiceWritesAdmin):
    write_roles = {Role.OWNER}
    list_display = ["user", "account", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "account__aid"]

    def save_through_service(self, obj) -> None:
        services.membership_save(membership=obj)

    def delete_through_service(self, obj) -> None:
        services.membership_delete(membership=obj)
