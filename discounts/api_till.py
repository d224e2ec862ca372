"""Dintero's `available_for_receipt`: the discounts a receipt gets, side-effect free, and our `?explain=true`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from discounts import documents
from discounts.errors import DiscountValidationError
from discounts.selectors.till import receipt_discounts_available
from loyalty.api.renderers import FastJSONRenderer
from loyalty.api.spec_scopes import x_scopes
from loyalty.api.swagger import Errors
from loyalty.api.views import DinteroAPIView

OPERATION = "aid_discounts_available_for_receipt_post"
# A receipt is evaluated in memory, line by line: more lines than any till prints is refused.
MAX_ITEMS = 1000

RECEIPT = {"application/json": {"type": "object", "description": "A Receipt (see the Dintero spec)"}}
EXPLAIN_ENTRY = {
    "type": "object",
    "properties": {
        "discount_id": {"type": "string"},
        "ref_id": {"type": "string"},
        "name": {"type": "string"},
        "customer_id": {"type": "string", "description": "the ref's holder: the customer, `*` or `/`"},
        "status": {"type": "string", "enum": ["applied", "not_applicable", "overshadowed"]},
        "condition": {
            "type": "string",
            "nullable": True,
            "description": "the failed (or deciding) condition, e.g. requirement.item.items, "
            "limitation.discount_hours, limitation.discount_combination",
        },
        "reason": {"type": "string", "nullable": True},
        "overshadowed_by": {"type": "string", "nullable": True, "description": "the rule (or ref) that won"},
        "amount": {"type": "integer"},
        "bonus": {"type": "integer"},
        "stamp": {"type": "integer"},
        "usage": {"type": "integer"},
    },
}
ANSWER = {
    "type": "object",
    "description": "The Receipt with discount_lines, bonus_lines, discounts[] and is_changed; with "
    "explain=true also explain[], one entry per candidate ref",
    "properties": {"explain": {"type": "array", "items": EXPLAIN_ENTRY}},
}


class AvailableQuery(serializers.Serializer):
    explain = serializers.BooleanField(required=False, default=False)


def _problems(body: Any) -> Errors:
    errors = documents.validate_body(OPERATION, body)
    if errors or not isinstance(body, dict):
        return errors or [("", "must be a receipt object")]
    items = body.get("items") or []
    if len(items) > MAX_ITEMS:
        return [("items", f"must hold at most {MAX_ITEMS} items")]
    customer_id = body.get("customer_id")
    if isinstance(customer_id, str) and customer_id:
        errors += [("customer_id", m) for _, m in documents.customer_ids_problems([customer_id], "customer_id")]
    seen: dict[int, int] = {}
    for index, item in enumerate(items):
        line_id = item.get("line_id") if isinstance(item, dict) else None
        if isinstance(line_id, int) and line_id in seen:
            errors.append((f"items[{index}].line_id", f"repeats the line_id of items[{seen[line_id]}]"))
        elif isinstance(line_id, int):
            seen[line_id] = index
    return errors


class AvailableForReceiptView(DinteroAPIView):
    required_scopes = {"POST": x_scopes(documents.SPEC_PATH, OPERATION)}
    renderer_classes = [FastJSONRenderer]  # the answer is the receipt with every applied rule: ~70 kB for 35 rules

    @extend_schema(
        operation_id=OPERATION,
        summary="The discounts a receipt gets (nothing is recorded)",
        description="Candidates: the customer's refs and those given to `*` (or, without a customer, to `/`). "
        "The answer is the receipt with new discount_lines/bonus_lines on the items that got them, `is_changed`, "
        "and `discounts[]` with each rule's ref (amount, bonus, stamp, usage, items, statistics). "
        "Our extension `explain=true` adds `explain[]`: every candidate ref, applied, not_applicable or "
        "overshadowed, with the condition that decided. See discounts/README.md, 'Evaluation at the till'.",
        parameters=[
            OpenApiParameter(
                "explain", bool, description="Add explain[]: why each candidate applied or did not (an extension)"
            )
        ],
        request=RECEIPT,
        responses={200: ANSWER},
        tags=["use-discounts"],
    )
    def post(self, request, aid):
        query = AvailableQuery(data=request.query_params)
        if not query.is_valid():
            errors = [(field, str(m)) for field, messages in query.errors.items() for m in messages]
            raise DiscountValidationError("The query is invalid.", errors)
        errors = _problems(request.data)
        if errors:
            raise DiscountValidationError("The receipt is invalid.", errors)
        outcome = receipt_discounts_available(account=self.account, receipt=request.data)
        body = outcome.receipt
        if query.validated_data["explain"]:
            body = {**body, "explain": outcome.explain()}
        return Response(body)
