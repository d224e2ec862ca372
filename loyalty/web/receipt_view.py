"""The stored Dintero receipt document arranged for reading, like the printed slip."""

from __future__ import annotations

from typing import Any

from receipts.models import Receipt


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def printed_receipt(receipt: Receipt) -> dict[str, Any]:
    document = _dict(receipt.document)
    lines = []
    for item in _list(document.get("items")):
        item = _dict(item)
        lines.append(
            {
                "id": item.get("id", ""),
                "description": item.get("description") or item.get("description_alias") or item.get("id", ""),
                "quantity": item.get("quantity"),
                "unit": item.get("unit", ""),
                "unit_price": item.get("unit_gross_price"),
                "gross": item.get("gross_amount"),
                "net": item.get("net_amount"),
                "groups": [_dict(g) for g in _list(item.get("groups"))],
                "discounts": [_dict(d) for d in _list(item.get("discount_lines"))],
                "dimension": _dict(item.get("dimension")),
                "extra_info": [_dict(e) for e in _list(item.get("extra_info"))],
                "tax_percent": item.get("tax_percent"),
                "returned": bool(item.get("is_return_item")),
                "voided": bool(item.get("voided")),
            }
        )
    customer = _dict(document.get("customer"))
    return {
        "store": _dict(document.get("store")),
        "lines": lines,
        "discounts": [_dict(d) for d in _list(document.get("discounts"))],
        "payments": [_dict(p) for p in _list(document.get("payments"))],
        "taxes": [_dict(t) for t in _list(document.get("tax_lines"))],
        "customer": customer,
        "extra_info": [_dict(e) for e in _list(document.get("extra_info"))],
        "total_discount": document.get("total_discount"),
        "operator": document.get("operator_name") or document.get("operator_id") or "",
        "salesperson": document.get("salesperson_name") or document.get("salesperson_id") or "",
        "comment": document.get("comment") or "",
        "receipt_text": document.get("receipt_text") or "",
        "order_number": document.get("order_number") or "",
        "transaction_id": document.get("transaction_id") or "",
    }
