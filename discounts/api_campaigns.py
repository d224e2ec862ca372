"""Dintero Discounts API views: campaigns. `{campaign_id}` in the path is the campaign's `campaign_id` (README)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from discounts.api import PageQuery, _page, _query, scopes
from discounts.selectors import campaigns as selectors
from discounts.services import campaigns as services
from loyalty.api.views import DinteroAPIView

TAGS = ["campaigns"]
CAMPAIGN = {"application/json": {"type": "object", "description": "A Campaign (see the Dintero spec)"}}


class CampaignListQuery(PageQuery):
    state = serializers.ChoiceField(choices=selectors.STATES, required=False)


class CampaignsView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_discounts_campaigns_get"), "POST": scopes("aid_discounts_campaigns_post")}

    @extend_schema(
        operation_id="aid_discounts_campaigns_get",
        summary="List campaigns, newest first",
        description="Without `state`, deleted campaigns are left out. `starting_after` is the last campaign's `id`.",
        parameters=[
            *_page(100, "The id of the last campaign of the previous page"),
            OpenApiParameter("state", str, enum=list(selectors.STATES)),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, aid):
        query = _query(CampaignListQuery, request)
        campaigns = selectors.campaign_list(
            account=self.account,
            state=query.get("state"),
            limit=query["limit"],
            starting_after=query.get("starting_after"),
        )
        return Response([selectors.campaign_to_api(campaign) for campaign in campaigns])

    @extend_schema(
        operation_id="aid_discounts_campaigns_post",
        summary="Create a campaign",
        description="`campaign_id` is the key rules carry in their `campaign_id`; without one it is the new `id`.",
        request=CAMPAIGN,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def post(self, request, aid):
        campaign = services.campaign_create(account=self.account, body=request.data, actor=self.principal.actor)
        return Response(selectors.campaign_to_api(campaign))


class CampaignView(DinteroAPIView):
    required_scopes = {
        "GET": scopes("aid_discounts_campaigns_campaign_id_get"),
        "PUT": scopes("aid_discounts_campaigns_campaign_id_put"),
        "DELETE": scopes("aid_discounts_campaigns_campaign_id_delete"),
    }

    @extend_schema(
        operation_id="aid_discounts_campaigns_campaign_id_get",
        summary="A campaign, by its campaign_id (deleted ones too, with deleted_at)",
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, aid, campaign_id):
        return Response(
            selectors.campaign_to_api(selectors.campaign_get(account=self.account, campaign_id=campaign_id))
        )

    @extend_schema(
        operation_id="aid_discounts_campaigns_campaign_id_put",
        summary="Update a campaign; undeletes a deleted one",
        description="`name`, `description`, `private` and `metadata` sent replace the stored ones.",
        request=CAMPAIGN,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def put(self, request, aid, campaign_id):
        campaign = services.campaign_update(
            account=self.account, campaign_id=campaign_id, body=request.data, actor=self.principal.actor
        )
        return Response(selectors.campaign_to_api(campaign))

    @extend_schema(
        operation_id="aid_discounts_campaigns_campaign_id_delete",
        summary="Delete a campaign (softly); its rules are not affected",
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def delete(self, request, aid, campaign_id):
        campaign = services.campaign_delete(account=self.account, campaign_id=campaign_id, actor=self.principal.actor)
        return Response(selectors.campaign_to_api(campaign))
