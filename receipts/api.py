"""Dintero Receipts API views, customer_segment included. Domain errors are rendered by the API's exception
handler (`loyalty.api.errors`); a view checks only the request's shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from loyalty.api.authentication import base_url
from loyalty.api.errors import DinteroError
from loyalty.api.spec_scopes import x_scopes
from loyalty.api.swagger import parse_datetime, type_name
from loyalty.api.views import DinteroAPIView
from receipts import selectors
from receipts.documents import SPEC_PATH
from receipts.presenters import iso_instant, receipt_to_api, receipt_to_minimal
from receipts.readmodels.queries import ItemFilter
from receipts.services.changes import receipt_change_customer, receipt_claim, receipt_update_anonymous
from receipts.services.ingest import receipt_ingest
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
        result = receipt_ingest(
            account=self.account,
            documents=request.data,
            created_by=self.principal.actor,
            token_expire_days=query.get("token_expire_days"),
            base_url=base_url(request),
        )
        return Response(
            {
                "receipts": [
                    {
                        "id": r.id,
                        "created_at": iso_instant(r.created_at),
                        "created_by": r.created_by,
                        "updated_at": iso_instant(r.updated_at),
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
        return Response(receipt_to_api(receipt))


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
        page = selectors.customer_receipts_page(
            account=self.account,
            customer_id=customer_id,
            limit=query["limit"],
            starting_after=query.get("starting_after"),
        )
        body: dict[str, Any] = {"receipts": [receipt_to_minimal(r) for r in page.receipts]}
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
        receipt = selectors.receipt_get_by_pos_id(
            account=self.account, receipt_id=receipt_id, store_id=query.get("store_id"), customer_id=customer_id
        )
        return Response(receipt_to_api(receipt))


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
        receipt = selectors.receipt_get_by_pos_id(
            account=self.account, receipt_id=receipt_id, store_id=query.get("store_id"), customer_id=customer_id
        )
        receipt = receipt_change_customer(
            account=self.account,
            receipt=receipt,
            new_customer_id=body.get("customer_id"),
            actor=self.principal.actor,
        )
        return Response(receipt_to_api(receipt))


class TokenQuery(serializers.Serializer):
    token = serializers.CharField(max_length=4096)


class ReceiptTokenView(DinteroAPIView):
    required_scopes = {
        "GET": scopes("aid_receipts_receipt_token_get"),
        "POST": scopes("aid_receipts_receipt_token_post"),
    }

    def _claims(self, request):
        """The receipt token's claims. The receipt belongs to the customer the token names (the selectors and the
        claim check that), so a customer token may use it only when it names that same customer."""
        token = _query(TokenQuery, request)["token"]
        claims = receipt_token_verify(token, aid=self.account.aid)
        if claims.get("customer_id") is not None:
            self.principal.require_customer(claims["customer_id"])
        return claims

    @extend_schema(
        operation_id="aid_receipts_receipt_token_get",
        summary="Get a receipt by its token",
        parameters=[OpenApiParameter("token", str, required=True)],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, aid):
        receipt = selectors.receipt_by_token(account=self.account, claims=self._claims(request))
        return Response(receipt_to_api(receipt))

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
        self.principal.require_customer(body.get("customer_id"))
        receipt = receipt_claim(
            account=self.account, claims=claims, customer_id=body.get("customer_id"), actor=self.principal.actor
        )
        return Response(receipt_to_api(receipt))


class SearchQuery(serializers.Serializer):
    receipt_id = serializers.CharField(max_length=255)
    limit = serializers.IntegerField(min_value=1, max_value=selectors.SEARCH_LIMIT, default=selectors.SEARCH_LIMIT)
    starting_after = serializers.CharField(required=False, max_length=64)


class ReceiptSearchView(DinteroAPIView):
    required_scopes = {"GET": scopes("aid_receipts_rid_get")}

    @extend_schema(
        operation_id="aid_receipts_rid_get",
        summary="Receipts with a POS receipt_id",
        description=(
            "Every receipt of the account with this POS id, ordered by store id, up to 1,000 per answer. When more "
            "remain, the answer has `starting_after` (the last receipt's id): pass it back for the next ones. "
            "`limit` (1 to 1,000, default 1,000) and `starting_after` are our extension of the operation."
        ),
        parameters=[
            OpenApiParameter("receipt_id", str, required=True),
            OpenApiParameter("limit", int, description="1 to 1,000, default 1,000"),
            OpenApiParameter("starting_after", str, description="The last receipt id of the previous answer"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request, aid):
        query = _query(SearchQuery, request)
        page = selectors.receipts_search(
            account=self.account,
            receipt_id=query["receipt_id"],
            limit=query["limit"],
            starting_after=query.get("starting_after"),
        )
        body: dict[str, Any] = {"receipts": [receipt_to_api(r) for r in page.receipts]}
        if page.starting_after:
            body["starting_after"] = page.starting_after
        return Response(body)


# --- customer_segment ----------------------------------------------------------------------------------------------


def _segment_instants(body: dict[str, Any], errors: list[dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("purchase_from", "purchase_to"):
        value = body.get(name)
        if value is None:
            out[name] = None
        elif (parsed := parse_datetime(value)) is None:
            errors.append({"path": name, "message": "must be a date-time with a timezone, e.g. 2024-05-01T00:00:00Z"})
        else:
            out[name] = parsed
    if out.get("purchase_from") and out.get("purchase_to") and out["purchase_from"] > out["purchase_to"]:
        errors.append({"path": "purchase_to", "message": "must not be before purchase_from"})
    return out


def _segment_store_ids(store_ids: Any, errors: list[dict[str, str]]) -> Any:
    if store_ids is not None:
        if not isinstance(store_ids, list) or not all(isinstance(s, str) for s in store_ids):
            errors.append({"path": "store_ids", "message": f"must be an array of strings, not {type_name(store_ids)}"})
        elif len(store_ids) > 1000:
            errors.append({"path": "store_ids", "message": "must have at most 1000 items"})
    return store_ids


def _segment_item(index: int, entry: Any, errors: list[dict[str, str]]) -> ItemFilter | None:
    if not isinstance(entry, dict):
        errors.append({"path": f"items[{index}]", "message": "must be an object with id and/or group"})
        return None
    item_id, group = entry.get("id"), entry.get("group")
    for key, value in (("id", item_id), ("group", group)):
        if value is not None and not isinstance(value, str):
            errors.append({"path": f"items[{index}].{key}", "message": "must be a string"})
    if item_id is None and group is None:
        errors.append({"path": f"items[{index}]", "message": "must give id, group or both"})
    return ItemFilter(id=item_id, group=group)


def _segment_items(items: Any, errors: list[dict[str, str]]) -> list[ItemFilter] | None:
    if items is None:
        return None
    if not isinstance(items, list) or len(items) > 1000:
        errors.append({"path": "items", "message": "must be an array of at most 1000 item filters"})
        return None
    filters = [_segment_item(index, entry, errors) for index, entry in enumerate(items)]
    return [f for f in filters if f is not None]


def _segment_filter(body: Any) -> dict[str, Any]:
    """The request body as customer_segment_json's filters; every problem in one 400."""
    if not isinstance(body, dict):
        raise DinteroError(400, "validation_error", "The body must be a JSON object.")
    errors: list[dict[str, str]] = []
    out = _segment_instants(body, errors)
    out["store_ids"] = _segment_store_ids(body.get("store_ids"), errors)
    out["items"] = _segment_items(body.get("items"), errors)
    if errors:
        raise DinteroError(400, "validation_error", "The segmentation filter is invalid.", errors)
    return out


class CustomerSegmentView(DinteroAPIView):
    required_scopes = {"POST": scopes("aid_receipts_customer_segment_post")}

    @extend_schema(
        operation_id="aid_receipts_customer_segment_post",
        summary="Customers by receipt data",
        description=(
            "Each given filter narrows the purchase receipts: purchase_from/purchase_to (inclusive), store_ids, items "
            "(an entry matches a line when every field it gives matches: id = item id, group = one of the line's "
            "groups; a receipt matches when any entry matches any line). Answers each customer with the number of "
            "matching receipts, most first. Only receipts with a customer_id that count as purchases are counted."
        ),
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        tags=["segment"],
    )
    def post(self, request, aid):
        query = _segment_filter(request.data)
        body = selectors.customer_segment_json(account=self.account, **query)
        return HttpResponse(body, content_type="application/json")
