"""Receipt documents as a point-of-sale would post them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

_counter = itertools.count(1)


def line(item_id: str = "sku-1", *, groups: tuple[str, ...] = ("g-1",), amount: int = 10000, **extra) -> dict[str, Any]:
    return {
        "id": item_id,
        "line_id": extra.pop("line_id", 1),
        "description": f"Item {item_id}",
        "quantity": 1,
        "unit_gross_price": amount,
        "gross_amount": amount,
        "net_amount": amount,
        "groups": [{"id": g, "name": f"Group {g}"} for g in groups],
        "eligible_for_discount": True,
        **extra,
    }


def receipt(
    *,
    receipt_id: str | None = None,
    store_id: str = "store-1",
    customer_id: str | None = "cust-1",
    purchase_at: datetime | str | None = None,
    items: list[dict[str, Any]] | None = None,
    net_amount: int | None = None,
    gross_amount: int | None = None,
    customer: dict[str, Any] | None = None,
    **extra,
) -> dict[str, Any]:
    n = next(_counter)
    items = items if items is not None else [line()]
    gross = gross_amount if gross_amount is not None else sum(i.get("gross_amount", 0) for i in items)
    net = net_amount if net_amount is not None else sum(i.get("net_amount", 0) for i in items)
    when = purchase_at or datetime(2024, 5, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=n)
    document: dict[str, Any] = {
        "store": {"id": store_id, "name": f"Store {store_id}"},
        "receipt_id": receipt_id or f"R{n:06d}",
        "purchase_at": when if isinstance(when, str) else when.isoformat().replace("+00:00", "Z"),
        "currency": "NOK",
        "gross_amount": gross,
        "net_amount": net,
        "items": items,
        **extra,
    }
    if customer_id is not None:
        document["customer_id"] = customer_id
        document["customer"] = customer or {
            "first_name": "Kari",
            "last_name": "Nordmann",
            "email": f"{customer_id}@example.com",
        }
    return document
