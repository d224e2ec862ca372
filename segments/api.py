"""Open Loyalty Segment API (9 operations) and our extensions (refresh, runs, preview)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models.functions import Lower
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from loyalty.accounts.scopes import Role
from loyalty.api.openloyalty import filter_errors, paging
from loyalty.api.views import OpenLoyaltyAPIView
from loyalty.core.errors import FieldError, Forbidden, ValidationFailed
from receipts.readmodels.prepare import Customer
from segments import engine, selectors
from segments.criteria import validate_definition
from segments.models import Segment, SegmentRun
from segments.services import preview as previews
from segments.services import segments as services
from segments.services.freshness import segment_freshness

READ = ("admin:segments", "read:segments")
WRITE = ("admin:segments", "write:segments")
TAGS = ["Segment"]


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _number(value: Decimal) -> float:
    return float(value)


def _parts(segment: Segment) -> list[dict[str, Any]]:
    return services._public(segment.definition.get("parts", []))


def segment_to_api(segment: Segment, *, open_run: SegmentRun | None = None) -> dict[str, Any]:
    """SegmentResponse, plus parts and the state of the latest recalculation (our extensions)."""
    body: dict[str, Any] = {
        "segmentId": str(segment.uuid),
        "name": segment.name,
        "description": segment.description,
        "active": segment.active,
        "createdAt": _iso(segment.created_at),
        "customersCount": segment.customers_count,
        "averageTransactionAmount": _number(segment.average_transaction_amount),
        "averageTransactions": _number(segment.average_transactions),
        "averageClv": _number(segment.average_clv),
        "currency": segment.account.currency,
        "parts": _parts(segment),
    }
    if segment.calculated_at:
        body["calculatedAt"] = _iso(segment.calculated_at)
    freshness = segment_freshness(segment=segment)
    body["refreshPolicy"] = segment.refresh_policy
    body["freshness"] = {
        "freshAsOf": _iso(freshness.fresh_as_of),
        "stale": freshness.stale,
        "staleReasons": freshness.reasons,
        "nextScheduledRunAt": _iso(segment.next_due_at),
    }
    if segment.paused_at:
        body["paused"] = {"pausedAt": _iso(segment.paused_at), "reason": segment.pause_reason}
    if open_run is not None:
        body["calculation"] = {"runId": str(open_run.id), "status": open_run.status, "progress": open_run.progress}
    return body


def segment_list_item(segment: Segment) -> dict[str, Any]:
    """The list's Segment schema (its stats are strings there)."""
    item = {
        "segmentId": str(segment.uuid),
        "name": segment.name,
        "description": segment.description,
        "active": segment.active,
        "customersCount": segment.customers_count,
        "averageTransactionAmount": str(segment.average_transaction_amount),
        "averageTransactions": str(segment.average_transactions),
        "averageClv": str(segment.average_clv),
        "parts": [{"segmentPartId": part["segmentPartId"], "criteria": part["criteria"]} for part in _parts(segment)],
        "createdAt": _iso(segment.created_at),
    }
    if segment.calculated_at:
        item["calculatedAt"] = _iso(segment.calculated_at)
    return item


def run_to_api(run: SegmentRun) -> dict[str, Any]:
    return {
        "runId": str(run.id),
        "trigger": run.trigger,
        "status": run.status,
        "progress": run.progress,
        "createdAt": _iso(run.created_at),
        "startedAt": _iso(run.started_at),
        "finishedAt": _iso(run.finished_at),
        "durationMs": run.duration_ms,
        "members": run.members,
        "added": run.added,
        "removed": run.removed,
        "lists": run.lists,
        "errorCode": run.error_code or None,
        "errorMessage": run.error_message or None,
    }


def _envelope(request) -> Any:
    data = request.data
    if not isinstance(data, dict) or "segment" not in data:
        raise ValidationFailed(
            'The body must be {"segment": {...}}.',
            field_errors=[FieldError("segment", "This value should not be blank.", "required")],
        )
    return data["segment"]


class SegmentFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    active = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false"), ("1", "1"), ("0", "0")], method="filter_active"
    )
    description = django_filters.CharFilter(field_name="description", lookup_expr="icontains")
    customersCount = django_filters.NumberFilter(field_name="customers_count")
    averageTransactionAmount = django_filters.NumberFilter(field_name="average_transaction_amount")
    averageTransactions = django_filters.NumberFilter(field_name="average_transactions")
    averageClv = django_filters.NumberFilter(field_name="average_clv")
    createdAt = django_filters.IsoDateTimeFilter(field_name="created_at", method="filter_created")

    class Meta:
        model = Segment
        fields: list[str] = []

    def filter_active(self, queryset, name, value):
        return queryset.filter(active=value in ("true", "1"))

    def filter_created(self, queryset, name, value):
        return queryset.filter(created_at__date=value.date())


SEGMENT_ORDER = {
    "name": "name_sort",
    "active": "active",
    "description": "description_sort",
    "customersCount": "customers_count",
    "averageTransactionAmount": "average_transaction_amount",
    "averageTransactions": "average_transactions",
    "averageClv": "average_clv",
    "createdAt": "created_at",
    "calculatedAt": "calculated_at",
}

FILTER_PARAMETERS = [
    OpenApiParameter("_page", int),
    OpenApiParameter("_itemsOnPage", int),
    OpenApiParameter("_orderBy", OpenApiTypes.OBJECT, style="deepObject", explode=True),
]


class SegmentListView(OpenLoyaltyAPIView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @extend_schema(
        operation_id="segmentGetList", parameters=FILTER_PARAMETERS, responses={200: OpenApiTypes.OBJECT}, tags=TAGS
    )
    def get(self, request, storeCode):
        page = paging(request.query_params, order_fields=SEGMENT_ORDER, default_order=["-created_at"])
        base = selectors.segments_for_account(account=self.account).select_related("account")
        filtered = SegmentFilter(
            request.query_params,
            # people sort names alphabetically, whatever the case
            queryset=base.annotate(name_sort=Lower("name"), description_sort=Lower("description")),
        )
        if not filtered.is_valid():
            raise filter_errors(filtered.errors)
        queryset = filtered.qs.order_by(*page.ordering, "id")
        result = selectors.paginate(queryset, page=page.page, per_page=page.per_page, total_all=base.count())
        return Response(
            {
                "items": [segment_list_item(s) for s in result.items],
                "total": {"all": result.all, "filtered": result.filtered, "estimated": False},
            }
        )

    @extend_schema(
        operation_id="segmentPost", request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT}, tags=TAGS
    )
    def post(self, request, storeCode):
        segment = services.segment_create(account=self.account, data=_envelope(request), actor=self.principal.actor)
        return Response({"segmentId": str(segment.uuid)})


class SegmentDetailView(OpenLoyaltyAPIView):
    required_scopes = {"GET": READ, "PUT": WRITE, "DELETE": WRITE}

    @extend_schema(operation_id="segmentGet", responses={200: OpenApiTypes.OBJECT}, tags=TAGS)
    def get(self, request, storeCode, segment):
        found = selectors.segment_get(account=self.account, segment_id=segment)
        return Response(segment_to_api(found, open_run=selectors.segment_open_run(segment=found)))

    @extend_schema(
        operation_id="segmentPut", request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT}, tags=TAGS
    )
    def put(self, request, storeCode, segment):
        found = selectors.segment_get(account=self.account, segment_id=segment)
        updated = services.segment_update(segment=found, data=_envelope(request), actor=self.principal.actor)
        return Response({"segmentId": str(updated.uuid)})

    @extend_schema(operation_id="segmentDelete", responses={204: None}, tags=TAGS)
    def delete(self, request, storeCode, segment):
        found = selectors.segment_get(account=self.account, segment_id=segment)
        services.segment_delete(segment=found, actor=self.principal.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberFilter(django_filters.FilterSet):
    customerId = django_filters.CharFilter(field_name="customer_id")
    firstName = django_filters.CharFilter(field_name="first_name", lookup_expr="icontains")
    lastName = django_filters.CharFilter(field_name="last_name", lookup_expr="icontains")
    email = django_filters.CharFilter(field_name="email", lookup_expr="icontains")
    phone = django_filters.CharFilter(field_name="phone", lookup_expr="icontains")

    class Meta:
        model = Customer
        fields: list[str] = []


MEMBER_ORDER = {
    "customerId": "customer_id",
    "firstName": "first_name",
    "lastName": "last_name",
    "email": "email",
    "phone": "phone",
    "createdAt": "created_at",
    "birthDate": "date_of_birth",
    "gender": "gender",
}


def member_to_api(customer, calculated_at) -> dict[str, Any]:
    member = {
        "customerId": customer.customer_id,
        "createdAt": _iso(customer.created_at),
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "phone": customer.phone,
        "email": customer.email,
        "gender": customer.gender,
        "calculatedAt": _iso(calculated_at),
    }
    if customer.date_of_birth:  # the spec's birthDate is a date-time and not nullable: absent when unknown
        member["birthDate"] = f"{customer.date_of_birth.isoformat()}T00:00:00Z"
    return member


class SegmentMembersView(OpenLoyaltyAPIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="segmentGetMembers", parameters=FILTER_PARAMETERS, responses={200: OpenApiTypes.OBJECT}, tags=TAGS
    )
    def get(self, request, storeCode, segment):
        # Members carry names, e-mails and phones; staff with the viewer role see none of it (as in the pages).
        if self.principal.kind == "staff" and self.principal.roles.get(self.account.aid) == Role.VIEWER:
            raise Forbidden("Viewers may not list customers' personal data.")
        found = selectors.segment_get(account=self.account, segment_id=segment)
        page = paging(request.query_params, order_fields=MEMBER_ORDER, default_order=["customer_id"])
        members = selectors.segment_members(segment=found)
        filtered = MemberFilter(request.query_params, queryset=members)
        if not filtered.is_valid():
            raise filter_errors(filtered.errors)
        has_filters = any(request.query_params.get(name) for name in MemberFilter.base_filters)
        result = selectors.paginate(
            filtered.qs.order_by(*page.ordering, "id"),
            page=page.page,
            per_page=page.per_page,
            total_all=found.customers_count,
            total_filtered=None if has_filters else found.customers_count,
        )
        return Response(
            {
                "items": [member_to_api(c, found.calculated_at) for c in result.items],
                "total": {"all": result.all, "filtered": result.filtered, "estimated": False},
            }
        )


class SegmentActivateView(OpenLoyaltyAPIView):
    required_scopes = {"POST": WRITE}
    active = True

    @extend_schema(operation_id="segmentPostActivate", request=None, responses={204: None}, tags=TAGS)
    def post(self, request, storeCode, segment):
        found = selectors.segment_get(account=self.account, segment_id=segment)
        services.segment_set_active(segment=found, active=self.active, actor=self.principal.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SegmentDeactivateView(SegmentActivateView):
    active = False

    @extend_schema(operation_id="segmentPostDeactivate", request=None, responses={204: None}, tags=TAGS)
    def post(self, request, storeCode, segment):
        return super().post(request, storeCode, segment)


ASSOCIATIONS = ("reward", "achievement", "campaign")


class SegmentAssociationView(OpenLoyaltyAPIView):
    """Rewards, achievements and campaigns do not exist in this product: an empty page (discount rules are served
    by the discounts app at association/discount_rule)."""

    required_scopes = {"GET": READ}

    @extend_schema(operation_id="_getSegmentAssociation", responses={200: OpenApiTypes.OBJECT}, tags=TAGS)
    def get(self, request, storeCode, segment, resourceName):
        selectors.segment_get(account=self.account, segment_id=segment)
        if resourceName not in ASSOCIATIONS:
            choices = ", ".join((*ASSOCIATIONS, "discount_rule"))
            raise ValidationFailed(
                "Unknown resource.",
                field_errors=[FieldError("resourceName", f"Use one of: {choices}.", "invalid_choice")],
            )
        paging(request.query_params, order_fields={}, default_order=[])
        return Response({"items": [], "total": {"all": 0, "estimated": False}})


class SegmentRefreshView(OpenLoyaltyAPIView):
    required_scopes = {"POST": WRITE}

    @extend_schema(
        operation_id="segmentPostRefresh",
        summary="Recalculate now (extension)",
        description="Queues a recalculation and answers at once with its run id; follow it at .../runs/{runId}.",
        request=None,
        responses={202: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def post(self, request, storeCode, segment):
        found = selectors.segment_get(account=self.account, segment_id=segment)
        run = services.segment_refresh(segment=found, actor=self.principal.actor)
        return Response({"runId": str(run.id)}, status=status.HTTP_202_ACCEPTED)


class SegmentRunsView(OpenLoyaltyAPIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="segmentGetRuns",
        summary="Recalculation history (extension)",
        parameters=FILTER_PARAMETERS[:2],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, storeCode, segment):
        found = selectors.segment_get(account=self.account, segment_id=segment)
        page = paging(request.query_params, order_fields={"createdAt": "created_at"}, default_order=["-created_at"])
        runs = selectors.segment_runs(segment=found)
        result = selectors.paginate(
            runs.order_by(*page.ordering), page=page.page, per_page=page.per_page, total_all=runs.count()
        )
        return Response(
            {
                "items": [run_to_api(r) for r in result.items],
                "total": {"all": result.all, "filtered": result.filtered, "estimated": False},
            }
        )


class SegmentRunView(OpenLoyaltyAPIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="segmentGetRun",
        summary="One recalculation (extension)",
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, storeCode, segment, run):
        found = selectors.segment_get(account=self.account, segment_id=segment)
        return Response(run_to_api(selectors.segment_run_get(segment=found, run_id=run)))


class SegmentPreviewView(OpenLoyaltyAPIView):
    required_scopes = {"POST": ("admin:segments", "read:segments", "write:segments")}

    @extend_schema(
        operation_id="segmentPostPreview",
        summary="Count the customers a definition matches, without saving (extension)",
        description='Body: {"segment": {"parts": [...]}}. Answers the total and each part\'s count.',
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def post(self, request, storeCode):
        body = _envelope(request)
        if not isinstance(body, dict):
            raise ValidationFailed(
                "Validation failed.", field_errors=[FieldError("segment", "This value should be an object.")]
            )
        parts = validate_definition(body.get("parts", []))
        preparation = previews.preview_prepare(account=self.account, parts=parts)
        return Response(engine.preview(account=self.account, parts=parts, preparation=preparation))
