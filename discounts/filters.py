"""Query filters of the list operations, named exactly as the spec's parameters (README.md says what they mean)."""

from __future__ import annotations

from datetime import datetime

import django_filters as filters
from django import forms
from django.db import models
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from discounts.documents import ANY_CUSTOMER, MAX_ID_LENGTH, NO_CUSTOMER
from discounts.models import DiscountRef, DiscountRule
from discounts.selectors.campaigns import private_campaign_hides
from loyalty.api.swagger import parse_datetime

# --- fields -------------------------------------------------------------------------------------------------------


class ListWidget(forms.TextInput):
    """`?x=a&x=b` and Swagger 2.0's default `?x=a,b` (collectionFormat csv) alike."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if isinstance(data, MultiValueDict) else [data.get(name) or ""]
        return [part for value in values for part in value.split(",") if part]


class TextListField(forms.Field):
    widget = ListWidget

    def validate(self, value):
        if any(len(part) > MAX_ID_LENGTH for part in value):
            raise forms.ValidationError(f"each value must be at most {MAX_ID_LENGTH} characters")


class TextListFilter(filters.Filter):
    field_class = TextListField

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__in": value}) if value else qs


class ZonedDateTimeField(forms.Field):
    def to_python(self, value) -> datetime | None:
        if value in (None, ""):
            return None
        parsed = parse_datetime(value)
        if parsed is None:
            raise forms.ValidationError("must be a date-time with a timezone, e.g. 2024-05-01T12:00:00Z")
        return parsed


class ZonedDateTimeFilter(filters.Filter):
    field_class = ZonedDateTimeField


class StrictBooleanField(forms.Field):
    """true/false (or 1/0); anything else is an error instead of being read as "not given"."""

    def to_python(self, value) -> bool | None:
        if value in (None, ""):
            return None
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise forms.ValidationError("must be true or false")


class StrictBooleanFilter(filters.Filter):
    field_class = StrictBooleanField


# --- rules --------------------------------------------------------------------------------------------------------


class RuleState(models.TextChoices):
    ALL = "all"  # every rule, deleted ones too
    AVAILABLE = "available"  # live, active and not expired (running or still to come)
    DELETED = "deleted"
    INACTIVE = "inactive"  # live with active=false
    ACTIVE = "active"  # live, active and inside its purchase window now
    SCHEDULED = "scheduled"  # live, active and its purchase window is still to come
    COMPLETED = "completed"  # live and its purchase window is over


def rule_state_q(state: str, now: datetime) -> Q:
    live = Q(deleted_at__isnull=True)
    return {
        RuleState.ALL: Q(),
        RuleState.AVAILABLE: live & Q(active=True, purchase_to__gt=now),
        RuleState.DELETED: Q(deleted_at__isnull=False),
        RuleState.INACTIVE: live & Q(active=False),
        RuleState.ACTIVE: live & Q(active=True, purchase_from__lte=now, purchase_to__gt=now),
        RuleState.SCHEDULED: live & Q(active=True, purchase_from__gt=now),
        RuleState.COMPLETED: live & Q(purchase_to__lte=now),
    }[RuleState(state)]


class RuleFilter(filters.FilterSet):
    """GET /discounts/rules."""

    state = filters.ChoiceFilter(choices=RuleState.choices, method="filter_state")
    campaign_id = TextListFilter(field_name="campaign_id")
    purchase_from = ZonedDateTimeFilter(field_name="purchase_from", lookup_expr="gte")
    purchase_to = ZonedDateTimeFilter(field_name="purchase_to", lookup_expr="lte")
    since_datetime = ZonedDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = DiscountRule
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        # Deleted rules are listed only when asked for by state, or as changes (since_datetime includes deletions).
        if not data.get("state") and not data.get("since_datetime"):
            queryset = queryset.filter(deleted_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(rule_state_q(value, timezone.now()))


# --- refs ---------------------------------------------------------------------------------------------------------


class RefState(models.TextChoices):
    ALL = "all"  # every ref, taken ones too
    AVAILABLE = "available"  # not taken, and the rule is active
    DELETED = "deleted"  # taken back
    INACTIVE = "inactive"  # not taken, but the rule has active=false


class RefFilter(filters.FilterSet):
    """GET /discounts/rules/{did}/customers. Without a state: the refs not taken back."""

    state = filters.ChoiceFilter(choices=RefState.choices, method="filter_state")

    class Meta:
        model = DiscountRef
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if not self.form.cleaned_data.get("state"):
            queryset = queryset.filter(deleted_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        live = Q(deleted_at__isnull=True)
        return queryset.filter(
            {
                RefState.ALL: Q(),
                RefState.AVAILABLE: live & Q(rule__active=True),
                RefState.DELETED: Q(deleted_at__isnull=False),
                RefState.INACTIVE: live & Q(rule__active=False),
            }[RefState(value)]
        )


class PublicRuleFilter(filters.FilterSet):
    """GET /discounts/public/rules: rules given to `*`, or to `/` with no_customer_id=true."""

    no_customer_id = StrictBooleanFilter(method="filter_audience")
    campaign_id = TextListFilter(field_name="rule__campaign_id", method="filter_campaign")

    class Meta:
        model = DiscountRef
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        audience = NO_CUSTOMER if self.form.cleaned_data.get("no_customer_id") else ANY_CUSTOMER
        return super().filter_queryset(queryset.filter(customer_id=audience))

    def filter_audience(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset  # applied in filter_queryset, because its absence selects `*` too

    def filter_campaign(self, queryset: QuerySet, name: str, value: list[str]) -> QuerySet:
        """The spec: a private campaign's rules are left out of public rules filtered by campaign_id."""
        if not value:
            return queryset
        return queryset.filter(rule__campaign_id__in=value).exclude(private_campaign_hides())
