"""Membership history for integrators: a customer's segment memberships from the ledger (Open Loyalty family)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from loyalty.api.openloyalty import paging
from loyalty.api.views import OpenLoyaltyAPIView
from loyalty.core.errors import FieldError, ValidationFailed
from segments import selectors
from segments.models import MembershipSpan

READ = ("admin:segments", "read:segments")
TRUE, FALSE = ("true", "1"), ("false", "0")


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def membership_to_api(span: MembershipSpan) -> dict[str, Any]:
    return {
        "segmentId": str(span.segment.uuid),
        "name": span.segment.name,
        "enteredAt": _iso(span.entered_at),
        "enteredReason": span.entered_reason,
        "leftAt": _iso(span.left_at),
        "leftReason": span.left_reason or None,
    }


def _current(value: str | None) -> bool:
    if value is None or value.lower() in FALSE:
        return False
    if value.lower() in TRUE:
        return True
    raise ValidationFailed(
        "Invalid query parameters.", field_errors=[FieldError("current", "Use true or false.", "invalid_choice")]
    )


class CustomerSegmentsView(OpenLoyaltyAPIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="customerGetSegments",
        summary="A customer's segment memberships, newest first (extension)",
        description=(
            "From the membership ledger: when the customer entered and left each segment and why "
            "(`definition_change`, `new_receipts`, `time_window`, `manual`). `leftAt` and `leftReason` are null while "
            "the customer is a member; `current=true` lists only those memberships."
        ),
        parameters=[
            OpenApiParameter("current", bool, description="Only the memberships the customer holds now."),
            OpenApiParameter("_page", int),
            OpenApiParameter("_itemsOnPage", int),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=["Segment"],
        extensions={"x-scopes": list(READ)},
    )
    def get(self, request, storeCode, customerId):
        current = _current(request.query_params.get("current"))
        page = paging(request.query_params, order_fields={}, default_order=[])
        spans = selectors.customer_memberships(account=self.account, customer_id=customerId, current=current)
        total_all = selectors.customer_memberships_count(account=self.account, customer_id=customerId)
        result = selectors.paginate(
            spans,
            page=page.page,
            per_page=page.per_page,
            total_all=total_all,
            total_filtered=None if current else total_all,
        )
        return Response(
            {
                "items": [membership_to_api(span) for span in result.items],
                "total": {"all": result.all, "filtered": result.filtered, "estimated": False},
            }
        )
