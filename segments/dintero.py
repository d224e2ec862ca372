"""Dintero's `POST /v1/accounts/{aid}/receipts/customer_segment`, on the segment engine's read models."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

from loyalty.api.errors import DinteroError
from loyalty.api.spec_scopes import x_scopes
from loyalty.api.swagger import parse_datetime, type_name
from loyalty.api.views import DinteroAPIView
from receipts import selectors as receipts
from receipts.documents import SPEC_PATH
from receipts.readmodels import queries as receipts_readmodels


def _validate(body: Any) -> dict[str, Any]:
    errors: list[dict[str, str]] = []
    if not isinstance(body, dict):
        raise DinteroError(400, "validation_error", "The body must be a JSON object.")
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
    store_ids = body.get("store_ids")
    if store_ids is not None:
        if not isinstance(store_ids, list) or not all(isinstance(s, str) for s in store_ids):
            errors.append({"path": "store_ids", "message": f"must be an array of strings, not {type_name(store_ids)}"})
        elif len(store_ids) > 1000:
            errors.append({"path": "store_ids", "message": "must have at most 1000 items"})
    out["store_ids"] = store_ids
    items = body.get("items")
    filters: list[receipts_readmodels.ItemFilter] | None = None
    if items is not None:
        if not isinstance(items, list) or len(items) > 1000:
            errors.append({"path": "items", "message": "must be an array of at most 1000 item filters"})
        else:
            filters = []
            for index, entry in enumerate(items):
                if not isinstance(entry, dict):
                    errors.append({"path": f"items[{index}]", "message": "must be an object with id and/or group"})
                    continue
                item_id, group = entry.get("id"), entry.get("group")
                for key, value in (("id", item_id), ("group", group)):
                    if value is not None and not isinstance(value, str):
                        errors.append({"path": f"items[{index}].{key}", "message": "must be a string"})
                if item_id is None and group is None:
                    errors.append({"path": f"items[{index}]", "message": "must give id, group or both"})
                filters.append(receipts_readmodels.ItemFilter(id=item_id, group=group))
    out["items"] = filters
    if errors:
        raise DinteroError(400, "validation_error", "The segmentation filter is invalid.", errors)
    return out


class CustomerSegmentView(DinteroAPIView):
    required_scopes = {"POST": x_scopes(SPEC_PATH, "aid_receipts_customer_segment_post")}

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
        query = _validate(request.data)
        body = receipts.customer_segment_json(account=self.account, **query)
        return HttpResponse(body, content_type="application/json")
