"""Dintero API views: `POST /discounts/events` (a webhook sink) and `/automations/rules`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from discounts.api import PageQuery, _page, _query, scopes
from discounts.selectors import automations as selectors
from discounts.services import automations as services
from discounts.services.events import POSTED_TYPES, event_receive
from loyalty.api.views import DinteroAPIView

AUTOMATION = {"application/json": {"type": "object", "description": "An Automation (see the Dintero spec)"}}


class EventsView(DinteroAPIView):
    required_scopes = {"POST": scopes("aid_discounts_events_post")}

    @extend_schema(
        operation_id="aid_discounts_events_post",
        summary="Receive an event (token_add, token_remove, receipt_add)",
        description="A webhook sink: a repeated `event-delivery` id, or a receipt already received, has no second "
        "effect (204 all the same). Tokens update the (type, value) → customer map; automations get the event.",
        parameters=[
            OpenApiParameter("event", str, OpenApiParameter.HEADER, required=True, enum=list(POSTED_TYPES)),
            OpenApiParameter("event-delivery", str, OpenApiParameter.HEADER, required=True),
        ],
        request={"application/json": {"type": "object", "description": "An Event"}},
        responses={204: None},
        tags=["events"],
    )
    def post(self, request, aid):
        event_receive(
            account=self.account,
            event_type=request.headers.get("event"),
            delivery_id=request.headers.get("event-delivery"),
            body=request.data,
        )
        return Response(status=204)


class AutomationListQuery(PageQuery):
    state = serializers.ChoiceField(choices=selectors.STATES, required=False)


class AutomationsView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_automations_rules_get"), "POST": scopes("aid_automations_rules_post")}

    @extend_schema(
        operation_id="aid_automations_rules_get",
        summary="List automations, newest first",
        description="Without `state`, deleted automations are left out; `available` is live and not yet over.",
        parameters=[
            *_page(100, "The id of the last automation of the previous page"),
            OpenApiParameter("state", str, enum=list(selectors.STATES)),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=["automations"],
    )
    def get(self, request, aid):
        query = _query(AutomationListQuery, request)
        automations = selectors.automation_list(
            account=self.account,
            state=query.get("state"),
            limit=query["limit"],
            starting_after=query.get("starting_after"),
        )
        return Response([selectors.automation_to_api(automation) for automation in automations])

    @extend_schema(
        operation_id="aid_automations_rules_post",
        summary="Create an automation",
        description="Actions: `discount` (give a rule to the event's customer) and `http` (a signed, templated "
        "request). An http action's `secret` is made when not sent and shown in this answer only.",
        request=AUTOMATION,
        responses={200: OpenApiTypes.OBJECT},
        tags=["automations"],
    )
    def post(self, request, aid):
        automation, made = services.automation_create(
            account=self.account, body=request.data, actor=self.principal.actor
        )
        return Response(selectors.automation_to_api(automation, secrets=made))


class AutomationView(DinteroAPIView):
    required_scopes = {
        "GET": scopes("aid_automations_rules_rid_get"),
        "DELETE": scopes("aid_automations_rules_rid_delete"),
    }

    @extend_schema(
        operation_id="aid_automations_rules_rid_get",
        summary="An automation",
        responses={200: OpenApiTypes.OBJECT},
        tags=["automations"],
    )
    def get(self, request, aid, arid):
        return Response(selectors.automation_to_api(selectors.automation_get(account=self.account, automation_id=arid)))

    @extend_schema(
        operation_id="aid_automations_rules_rid_delete",
        summary="Delete an automation (softly: listed with state=deleted)",
        responses={200: OpenApiTypes.OBJECT},
        tags=["automations"],
    )
    def delete(self, request, aid, arid):
        automation = services.automation_delete(account=self.account, automation_id=arid, actor=self.principal.actor)
        return Response(selectors.automation_to_api(automation))
