"""Admin for discount rules and their customers (refs), inside the user's accounts (AccountScopedAdmin).

Every write goes through discounts.services, as the API's do: a rule is edited as its whole Discount document
(validated and checked against the update rules), customers are given or taken on the rule's page, and refs are
taken back from the refs list. Nothing is hard-deleted here: deleting a rule soft-deletes it, as the API does.
"""

from __future__ import annotations

import json
from collections import defaultdict

from django import forms
from django.contrib import admin
from django.http import Http404
from django.urls import reverse
from django.utils.html import format_html

from discounts import documents, selectors, services
from discounts.models import DiscountRef, DiscountRule
from loyalty.accounts.admin import AccountScopedAdmin


def _actor(request) -> str:
    return f"user:{request.user.get_username()}"


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class PrettyJSONField(forms.JSONField):
    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class RuleAdminForm(forms.ModelForm):
    document = PrettyJSONField(
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "style": "font-family: monospace"}),
        help_text="The Discount as the API takes it (requirement, reward, name, active, private, metadata, ...). "
        "id, type and the history are the server's.",
    )
    give_customers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One customer id per line. * gives it to every purchase with a customer id, / to purchases "
        "without one.",
    )
    offering_constraint_id = forms.CharField(
        required=False,
        max_length=documents.MAX_ID_LENGTH,
        help_text="Optional: a customer gets the rule once per constraint value.",
    )
    take_customers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One customer id per line; * takes it back from everyone.",
    )

    class Meta:
        model = DiscountRule
        fields = ["account", "document"]

    def clean(self):
        data = super().clean()
        data["give"] = _lines(data.get("give_customers"))
        data["take"] = _lines(data.get("take_customers"))
        data["offering_constraint_id"] = data.get("offering_constraint_id") or None
        for field, problems in [
            ("give_customers", documents.customer_ids_problems(data["give"], "give_customers")),
            ("take_customers", documents.customer_ids_problems(data["take"], "take_customers")),
        ]:
            for _, message in problems:
                self.add_error(field, message)
        if "document" in data and (self.instance._state.adding or "document" in self.changed_data):
            self._check_document(data["document"])
        return data

    def _check_document(self, document) -> None:
        try:
            if self.instance._state.adding:
                if not isinstance(document, dict):
                    raise services.DiscountValidationError("not an object", [("", "must be an object")])
                errors = documents.validate_discount(documents.strip_server_fields(document))
                if errors:
                    raise services.DiscountValidationError("invalid", errors)
            else:
                services.rule_update_validate(
                    account=self.instance.account, rule=self.instance, changes=document, replace=True
                )
        except (services.DiscountValidationError, services.RuleUpdateError) as exc:
            for path, message in exc.errors:
                self.add_error("document", f"{path or 'the document'} {message}")


class DeletedFilter(admin.SimpleListFilter):
    """Live or (softly) deleted rows; `options` is [(live value, label), (deleted value, label)]."""

    title = "deleted"
    parameter_name = "deleted"
    options = [("no", "Live"), ("yes", "Deleted")]

    def lookups(self, request, model_admin):
        return self.options

    def queryset(self, request, queryset):
        (live, _), (deleted, _) = self.options
        if self.value() in (live, deleted):
            return queryset.filter(deleted_at__isnull=self.value() == live)
        return queryset


SUMMARY = [
    "account",
    "id",
    "name",
    "type",
    "active",
    "private",
    "campaign_id",
    "purchase_from",
    "purchase_to",
    "visible_from",
    "customers",
]
HISTORY = ["created_at", "created_by", "updated_at", "updated_by", "deleted_at", "deleted_by"]


@admin.register(DiscountRule)
class DiscountRuleAdmin(AccountScopedAdmin):
    form = RuleAdminForm
    list_display = [
        "name_or_id",
        "account",
        "type",
        "active",
        "private",
        "purchase_from",
        "purchase_to",
        "updated_at",
        "deleted_at",
    ]
    list_filter = [DeletedFilter, "type", "active", "private"]
    search_fields = ["name", "=campaign_id"]
    ordering = ["-id"]

    @admin.display(description="rule", ordering="name")
    def name_or_id(self, obj) -> str:
        return str(obj)

    @admin.display(description="customers")
    def customers(self, obj) -> str:
        url = reverse("admin:discounts_discountref_changelist") + f"?rule={obj.pk}&state=live"
        count = selectors.rule_live_refs_count(account=obj.account, rule=obj)
        return format_html('<a href="{}">{} customer refs</a>', url, count)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["account", "document"]}),
                ("Give to customers", {"fields": ["give_customers", "offering_constraint_id"]}),
            ]
        fieldsets = [(None, {"fields": SUMMARY}), ("Discount document", {"fields": ["document"]})]
        if self.has_change_permission(request, obj):
            fields = ["give_customers", "offering_constraint_id", "take_customers"]
            fieldsets.append(("Give or take customers", {"fields": fields}))
        return [*fieldsets, ("History", {"fields": HISTORY})]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [*SUMMARY, *HISTORY]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.deleted_at)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.deleted_at)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # it would hard-delete; the rule page's Delete soft-deletes
        return actions

    def save_model(self, request, obj, form, change):
        if not self._can_write(request, obj):
            raise Http404("No such account in your accounts.")
        data, actor = form.cleaned_data, _actor(request)
        if not change:
            rule = services.rule_create(account=obj.account, document=data["document"], actor=actor)
        elif "document" in form.changed_data:
            rule = services.rule_update(
                account=obj.account, rule=obj, changes=data["document"], actor=actor, replace=True
            )
        else:
            rule = obj
        if data["give"]:
            services.rule_customers_give(
                account=rule.account,
                rule=rule,
                customer_ids=data["give"],
                offering_constraint_id=data["offering_constraint_id"],
                actor=actor,
            )
        if data["take"]:
            take = None if documents.ANY_CUSTOMER in data["take"] else data["take"]
            services.rule_customers_take(account=rule.account, rule=rule, customer_ids=take, actor=actor)
        obj.pk = rule.pk  # the admin logs and redirects with the object it passed in

    def delete_model(self, request, obj):
        services.rule_delete(account=obj.account, rule=obj, actor=_actor(request))

    def get_deleted_objects(self, objs, request):
        # A soft delete takes nothing else with it: the rule's refs are kept.
        perms_needed = set() if all(self.has_delete_permission(request, o) for o in objs) else {"discount rule"}
        return [str(o) for o in objs], {}, perms_needed, []


class RefStateFilter(DeletedFilter):
    title = "state"
    parameter_name = "state"
    options = [("live", "Not taken back"), ("taken", "Taken back")]


@admin.register(DiscountRef)
class DiscountRefAdmin(AccountScopedAdmin):
    list_display = ["customer_id", "rule_link", "offering_constraint_id", "created_at", "created_by", "deleted_at"]
    list_filter = [RefStateFilter]
    search_fields = ["=customer_id"]
    list_select_related = ["rule"]
    ordering = ["id"]
    fields = [
        "account",
        "rule_link",
        "customer_id",
        "offering_constraint_id",
        "created_at",
        "created_by",
        "deleted_at",
        "deleted_by",
    ]
    readonly_fields = fields
    actions = ["take"]

    @admin.display(description="rule")
    def rule_link(self, obj) -> str:
        url = reverse("admin:discounts_discountrule_change", args=[obj.rule_id])
        return format_html('<a href="{}">{}</a>', url, obj.rule)

    def has_add_permission(self, request):
        return False  # refs are given on their rule's page

    def has_change_permission(self, request, obj=None):
        # A ref is never edited field by field; taking it back (the action, which needs this) is its one change.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # taking back keeps the ref (soft delete): use the action

    @admin.action(description="Take the rule back from these customers", permissions=["change"])
    def take(self, request, queryset):
        refs = queryset.filter(deleted_at__isnull=True, rule__deleted_at__isnull=True).select_related("rule__account")
        customers_by_rule: dict[DiscountRule, set[str]] = defaultdict(set)
        for ref in refs:
            if self._can_write(request, ref):
                customers_by_rule[ref.rule].add(ref.customer_id)
        taken = sum(
            services.rule_customers_take(
                account=rule.account, rule=rule, customer_ids=sorted(customers), actor=_actor(request)
            )
            for rule, customers in customers_by_rule.items()
        )
        self.message_user(request, f"Took {taken} refs back.")
