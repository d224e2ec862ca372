"""Dintero Discounts API views of usage: claims, one customer's ref (read, add usage, take back), a rule's usages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from discounts import selectors
from discounts.api import PageQuery, _customer_id, _page, _query, scopes
from discounts.selectors import claims as claim_selectors
from discounts.selectors.customer_refs import customer_ref_get
from discounts.selectors.statistics import ref_statistics, rule_usages
from discounts.services import claims as claim_services
from discounts.services import usage as usage_services
from loyalty.api.views import DinteroAPIView

CLAIMS = ["discount claims"]
CUSTOMERS = ["discount rule customers"]
RULES = ["discount rules"]
CLAIM_BODY = {"application/json": {"type": "object", "description": "A Claim (see the Dintero spec)"}}
USAGE_REF_BODY = {
    "application/json": {
        "type": "object",
        "properties": {
            "usage_ref": {
                "type": "object",
                "properties": {
                    "ref": {"type": "string"},
                    "ref_type": {"type": "string"},
                    "usage": {"type": "integer"},
                    "stamp": {"type": "integer"},
                    "amount": {"type": "integer"},
                },
                "required": ["ref", "ref_type"],
            }
        },
    }
}


class ClaimListQuery(PageQuery):
    ref = serializers.CharField(required=False, max_length=255)
    customer_id = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    total = serializers.BooleanField(required=False, default=False)


class UsagesQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    starting_after = serializers.CharField(required=False, max_length=1024)


class ClaimsView(DinteroAPIView):
    required_scopes = {
        "GET": scopes("aid_discounts_available_for_receipt_get_claims"),
        "POST": scopes("aid_discounts_available_for_receipt_post_claim"),
    }

    @extend_schema(
        operation_id="aid_discounts_available_for_receipt_get_claims",
        summary="Claims, newest first (released ones too, with deleted_at)",
        parameters=[
            *_page(100, "The id of the last claim of the previous page"),
            OpenApiParameter("ref", str),
            OpenApiParameter("customer_id", str),
            OpenApiParameter("total", bool, description="Adds a total-count header"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=CLAIMS,
    )
    def get(self, request, aid):
        query = _query(ClaimListQuery, request)
        filters = {"ref": query.get("ref"), "customer_id": query.get("customer_id")}
        claims = claim_selectors.claim_list(
            account=self.account, limit=query["limit"], starting_after=query.get("starting_after"), **filters
        )
        headers = {}
        if query["total"]:
            headers["total-count"] = str(claim_selectors.claim_count(account=self.account, **filters))
        return Response([claim_selectors.claim_to_api(claim) for claim in claims], headers=headers)

    @extend_schema(
        operation_id="aid_discounts_available_for_receipt_post_claim",
        summary="Claim refs for a purchase",
        description="Checks discount_reward_usage and discount_repeat_usage atomically. `ref` is the idempotency "
        "key: the same claim again answers the stored one; the same ref with other content is a 400 "
        "`claim_ref_conflict`.",
        request=CLAIM_BODY,
        responses={200: OpenApiTypes.OBJECT},
        tags=CLAIMS,
    )
    def post(self, request, aid):
        claim, _ = claim_services.claim_create(account=self.account, body=request.data, actor=self.principal.actor)
        return Response(claim_selectors.claim_to_api(claim))


class ClaimView(DinteroAPIView):
    required_scopes = {
        "GET": scopes("aid_discounts_available_for_receipt_get_claim"),
        "DELETE": scopes("aid_discounts_available_for_receipt_delete_claim"),
    }

    @extend_schema(
        operation_id="aid_discounts_available_for_receipt_get_claim",
        summary="A claim",
        responses={200: OpenApiTypes.OBJECT},
        tags=CLAIMS,
    )
    def get(self, request, aid, claim_id):
        return Response(
            claim_selectors.claim_to_api(claim_selectors.claim_get(account=self.account, claim_id=claim_id))
        )

    @extend_schema(
        operation_id="aid_discounts_available_for_receipt_delete_claim",
        summary="Release a claim: its usage no longer counts",
        description="Releasing a released claim changes nothing and answers it again.",
        responses={200: OpenApiTypes.OBJECT},
        tags=CLAIMS,
    )
    def delete(self, request, aid, claim_id):
        claim = claim_services.claim_release(account=self.account, claim_id=claim_id, actor=self.principal.actor)
        return Response(claim_selectors.claim_to_api(claim))


def _ref_body(view: DinteroAPIView, ref, customer_id: str) -> dict[str, Any]:
    statistics = ref_statistics(account=view.account, refs=[ref], customer_id=customer_id)[ref.pk]
    return {**selectors.rule_to_api(ref.rule, statistics=statistics), "ref_id": str(ref.pk)}


class CustomerRefView(DinteroAPIView):
    required_scopes = {
        "GET": scopes("aid_discounts_customer_cid_get_ref_id"),
        "POST": scopes("aid_discounts_customer_cid_post_ref_id"),
        "DELETE": scopes("aid_discounts_customer_cid_delete_ref_id"),
    }

    @extend_schema(
        operation_id="aid_discounts_customer_cid_get_ref_id",
        summary="A customer's ref with its statistics for them",
        description="A ref given to `*` is every customer's: its statistics are this customer's use.",
        responses={200: OpenApiTypes.OBJECT},
        tags=CUSTOMERS,
    )
    def get(self, request, aid, customer_id, ref_id):
        ref = customer_ref_get(account=self.account, customer_id=_customer_id(customer_id), ref_id=ref_id, live=True)
        return Response(_ref_body(self, ref, customer_id))

    @extend_schema(
        operation_id="aid_discounts_customer_cid_post_ref_id",
        summary="Add usage, stamps or an amount to a customer's ref",
        description="Posting the same usage_ref (ref_type and ref) again adds nothing.",
        request=USAGE_REF_BODY,
        responses={200: OpenApiTypes.OBJECT},
        tags=CUSTOMERS,
    )
    def post(self, request, aid, customer_id, ref_id):
        ref = usage_services.customer_ref_usage_add(
            account=self.account,
            customer_id=_customer_id(customer_id),
            ref_id=ref_id,
            body=request.data,
            actor=self.principal.actor,
        )
        return Response(_ref_body(self, ref, customer_id))

    @extend_schema(
        operation_id="aid_discounts_customer_cid_delete_ref_id",
        summary="Take a ref back from the customer",
        description="Only a ref given to this customer; a `*` or `/` ref is taken back through the rule's customers.",
        responses={200: OpenApiTypes.OBJECT},
        tags=CUSTOMERS,
    )
    def delete(self, request, aid, customer_id, ref_id):
        ref = usage_services.customer_ref_take(
            account=self.account, customer_id=_customer_id(customer_id), ref_id=ref_id, actor=self.principal.actor
        )
        body = _ref_body(self, ref, customer_id)
        if "debit_balance" in body["statistics"]:
            body["debit_balance"] = body["statistics"]["debit_balance"]
        return Response(body)


class RuleUsagesView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_discounts_did_usages_get")}

    @extend_schema(
        operation_id="aid_discounts_did_usages_get",
        summary="A rule's usages: one per ref and customer that used it, with its usage refs",
        parameters=_page(1000, "The id of the last usage of the previous page"),
        responses={200: OpenApiTypes.OBJECT},
        tags=RULES,
    )
    def get(self, request, aid, did):
        query = _query(UsagesQuery, request)
        rule = selectors.rule_get(account=self.account, rule_id=did)
        return Response(
            rule_usages(
                account=self.account, rule=rule, limit=query["limit"], starting_after=query.get("starting_after")
            )
        )
