"""Dintero Receipts API views (all operations but customer_segment, which lives with the segment engine)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from loyalty.accounts.tokens import TokenError
from loyalty.api.authentication import base_url
from loyalty.api.errors import DinteroError
from loyalty.api.spec_scopes import x_scopes
from loyalty.api.views import DinteroAPIView
from receipts import selectors
from receipts.documents import SPEC_PATH
from receipts.services.changes import (
    ReceiptRuleError,
    receipt_change_customer,
    receipt_claim,
    receipt_update_anonymous,
)
from receipts.services.ingest import ReceiptValidationError, receipt_ingest
from receipts.services.tokens import receipt_token_verify

TAGS = ["receipts"]


def scopes(operation_id: str) -> tuple[str, ...]:
    return x_scopes(SPEC_PATH, operation_id)


class EntitySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField()
    updated_at = serializers.DateTimeField()


class IngestResponse(serializers.Serializer):
    receipts = EntitySerializer(many=True)
    duplicates = serializers.IntegerField()


class TokenExpireQuery(serializers.Serializer):
    token_expire_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)


def _query(serializer_class, request):
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _rule_error(exc: Exception) -> DinteroError:
    return DinteroError(400, "bad_request", str(exc))


def _customer_id(value: str) -> str:
    """The path's customer_id, as the spec limits it."""
    if len(value) > 255 or value != value.strip():
        raise DinteroError(
            400, "validation_error", "customer_id must be at most 255 characters, without surrounding spaces."
        )
    return value


class ReceiptsView(DinteroAPIView):
    required_scopes = {"POST": scopes("aid_receipts_post")}

    @extend_schema(
        operation_id="aid_receipts_post",
        summary="Create new receipts",
        description=(
            "An array of 1 to 1,000 receipts (Dintero's Receipt schema). All are validated first: one invalid "
            "receipt stores nothing and the 400 lists every problem with its index and path. Receipts already "
            "stored (same store.id and receipt_id), or repeated in the batch, are counted in `duplicates`."
        ),
        parameters=[OpenApiParameter("token_expire_days", int, description="Add a claim token to each receipt.")],
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={200: IngestResponse},
        tags=TAGS,
    )
    def post(self, request, aid):
        query = _query(TokenExpireQuery, request)
        try:
            result = receipt_ingest(
                account=self.account,
                documents=request.data,
                created_by=self.principal.actor,
                token_expire_days=query.get("token_expire_days"),
                base_url=base_url(request),
            )
        except ReceiptValidationError as exc:
            raise DinteroError(400, "validation_error", exc.message, exc.errors) from exc
        return Response(
            {
                "receipts": [
                    {
                        "id": r.id,
                        "created_at": selectors._iso(r.created_at),
                        "created_by": r.created_by,
                        "updated_at": selectors._iso(r.updated_at),
                    }
                    for r in result.receipts
                ],
                "duplicates": result.duplicates,
            }
        )


class StoreQuery(serializers.Serializer):
    store_id = serializers.CharField(required=False, max_length=255)


class ReceiptUpdateView(DinteroAPIView):
    required_scopes = {"PUT": scopes("aid_receipts_update_put")}

    @extend_schema(
        operation_id="aid_receipts_update_put",
        summary="Update an anonymous receipt",
        description=(
            "Sets customer_id (only when the receipt has none) and discounts (only when it has none). When several "
            "stores have this receipt_id, add `?store_id=` (our extension) to pick one; otherwise 400."
        ),
        parameters=[
            OpenApiParameter("store_id", str, description="Disambiguates a receipt_id used by several stores.")
        ],
        request={"application/json": {"type": "object"}},
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def put(self, request, aid, receipt_id):
        query = _query(StoreQuery, request)
        body = request.data if isinstance(request.data, dict) else {}
        if "customer_id" not in body:
            raise DinteroError(400, "validation_error", "customer_id is required.")
        try:
            receipt = selectors.receipt_get_by_pos_id(
                account=self.account, receipt_id=receipt_id, store_id=query.get("store_id")
            )
            receipt = receipt_update_anonymous(
                account=self.account,
                receipt=receipt,
                customer_id=body.get("customer_id"),
                discounts=body.get("discounts"),
                actor=self.principal.actor,
            )
        except (selectors.AmbiguousReceipt, ReceiptRuleError) as exc:
            raise _rule_error(exc) from exc
        return Response(selectors.receipt_to_api(receipt))


class PageQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=10)
    starting_after = serializers.CharField(required=False, max_length=64)


class CustomerReceiptsView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_receipts_customers_cid_get")}

    @extend_schema(
        operation_id="aid_receipts_customers_cid_get",
        summary="A customer's receipts, newest first",
        parameters=[
            OpenApiParameter("limit", int, description="1 to 100, default 10"),
            OpenApiParameter("starting_after", str, description="The last receipt id of the previous page"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=["customer receipts"],
    )
    def get(self, request, aid, customer_id):
        customer_id = _customer_id(customer_id)
        query = _query(PageQuery, request)
        try:
            page = selectors.customer_receipts_page(
                account=self.account,
                customer_id=customer_id,
                limit=query["limit"],
                starting_after=query.get("starting_after"),
            )
        except selectors.InvalidCursor as exc:
            raise DinteroError(400, "bad_request", str(exc)) from exc
        body = {"receipts": [selectors.receipt_to_minimal(r) for r in page.receipts]}
        if page.starting_after:
            body["starting_after"] = page.starting_after
        return Response(body)


class CustomerReceiptView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_receipts_customers_cid_rid_get")}

    @extend_schema(
        operation_id="aid_receipts_customers_cid_rid_get",
        summary="One of a customer's receipts",
        parameters=[
            OpenApiParameter("store_id", str, description="Disambiguates a receipt_id used by several stores.")
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=["customer receipts"],
    )
    def get(self, request, aid, customer_id, receipt_id):
        customer_id = _customer_id(customer_id)
        query = _query(StoreQuery, request)
        try:
            receipt = selectors.receipt_get_by_pos_id(
                account=self.account, receipt_id=receipt_id, store_id=query.get("store_id"), customer_id=customer_id
            )
        except selectors.AmbiguousReceipt as exc:
            raise _rule_error(exc) from exc
        return Response(selectors.receipt_to_api(receipt))


class ChangeCustomerView(DinteroAPIView):
    required_scopes = {"POST": scopes("aid_receipts_customers_cid_rid_change_customer_id_post")}

    @extend_schema(
        operation_id="aid_receipts_customers_cid_rid_change_customer_id_post",
        summary="Move a receipt to another customer",
        description="Adds the extra_info entry dintero.receipts.change_customer_id.{timestamp}.{hash}.",
        parameters=[
            OpenApiParameter("store_id", str, description="Disambiguates a receipt_id used by several stores.")
        ],
        request={"application/json": {"type": "object", "properties": {"customer_id": {"type": "string"}}}},
        responses={200: OpenApiTypes.OBJECT},
        tags=["customer receipts"],
    )
    def post(self, request, aid, customer_id, receipt_id):
        customer_id = _customer_id(customer_id)
        query = _query(StoreQuery, request)
        body = request.data if isinstance(request.data, dict) else {}
        try:
            receipt = selectors.receipt_get_by_pos_id(
                account=self.account, receipt_id=receipt_id, store_id=query.get("store_id"), customer_id=customer_id
            )
            receipt = receipt_change_customer(
                account=self.account,
                receipt=receipt,
                new_customer_id=body.get("customer_id"),
                actor=self.principal.actor,
            )
        except (selectors.AmbiguousReceipt, ReceiptRuleError) as exc:
            raise _rule_error(exc) from exc
        return Response(selectors.receipt_to_api(receipt))


class TokenQuery(serializers.Serializer):
    token = serializers.CharField(max_length=4096)


class ReceiptTokenView(DinteroAPIView):
    required_scopes = {
        "GET": scopes("aid_receipts_receipt_token_get"),
        "POST": scopes("aid_receipts_receipt_token_post"),
    }

    def _claims(self, request):
        token = _query(TokenQuery, request)["token"]
        try:
            return receipt_token_verify(token, base_url=base_url(request), aid=self.account.aid)
        except TokenError as exc:
            raise DinteroError(400, "invalid_token", f"Invalid receipt token: {exc}.") from exc

    @extend_schema(
        operation_id="aid_receipts_receipt_token_get",
        summary="Get a receipt by its token",
        parameters=[OpenApiParameter("token", str, required=True)],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, aid):
        claims = self._claims(request)
        receipt = selectors.receipt_by_token_claims(account=self.account, claims=claims)
        if receipt is None:
            raise Http404("The token's receipt no longer exists.")
        if receipt.token_claimed_at is not None:
            raise DinteroError(400, "invalid_token", "This receipt token has already been used.")
        return Response(selectors.receipt_to_api(receipt))

    @extend_schema(
        operation_id="aid_receipts_receipt_token_post",
        summary="Claim a receipt with its token",
        parameters=[OpenApiParameter("token", str, required=True)],
        request={"application/json": {"type": "object", "properties": {"customer_id": {"type": "string"}}}},
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def post(self, request, aid):
        claims = self._claims(request)
        body = request.data if isinstance(request.data, dict) else {}
        try:
            receipt = receipt_claim(
                account=self.account, claims=claims, customer_id=body.get("customer_id"), actor=self.principal.actor
            )
        except ReceiptRuleError as exc:
            raise _rule_error(exc) from exc
        return Response(selectors.receipt_to_api(receipt))


class SearchQuery(serializers.Serializer):
    receipt_id = serializers.CharField(max_length=255)


class ReceiptSearchView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_receipts_rid_get")}

    @extend_schema(
        operation_id="aid_receipts_rid_get",
        summary="Receipts with a POS receipt_id",
        parameters=[OpenApiParameter("receipt_id", str, required=True)],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, aid):
        query = _query(SearchQuery, request)
        receipts = selectors.receipts_search(account=self.account, receipt_id=query["receipt_id"])
        return Response({"receipts": [selectors.receipt_to_api(r) for r in receipts]})
