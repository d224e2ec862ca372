"""Receipts of the page tests' shops, as the API takes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from receipts.services.ingest import receipt_ingest

NOW = datetime.now(UTC).replace(microsecond=0)


def receipt_doc(
    n: int, *, store: str = "S1", customer: str | None = "C1", gross: int = 10000, days_ago: int = 1, **extra
):
    at = NOW - timedelta(days=days_ago, minutes=n)
    document = {
        "store": {"id": store, "name": f"Store {store}"},
        "receipt_id": f"R{n}",
        "purchase_at": at.isoformat().replace("+00:00", "Z"),
        "currency": "NOK",
        "gross_amount": gross,
        "net_amount": gross - 2000,
        "entry_status": "Concluded",
        "items": [
            {
                "line_id": 1,
                "id": "COFFEE",
                "description": "Coffee beans",
                "quantity": 2,
                "unit_gross_price": gross // 2,
                "gross_amount": gross,
                "net_amount": gross - 2000,
                "groups": [{"id": "G1", "name": "Coffee"}],
                "discount_lines": [{"amount": 500, "description": "Member price", "line_id": 1}],
            }
        ],
        "payments": [{"line_id": 1, "amount": gross, "type_id": "card"}],
        "tax_lines": [{"amount": 2000, "percentage": 25, "tax_basis": gross - 2000}],
        **extra,
    }
    if customer:
        document["customer_id"] = customer
        document["customer"] = {
            "customer_id": customer,
            "first_name": f"First{customer}",
            "last_name": "Person",
            "email": f"{customer.lower()}@example.com",
            "phone_number": f"+4790000{customer[-1]}",
        }
    return document


def ingest(account, documents):
    return receipt_ingest(account=account, documents=documents, created_by="test")
