"""Receipts as the Dintero API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from receipts.models import Receipt

MINIMAL_FIELDS = ("store", "items", "gross_amount", "net_amount", "currency", "purchase_at")


def iso_instant(value: datetime | None) -> str | None:
    """An instant as the API writes it: ISO 8601 with `Z` for UTC."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def receipt_to_api(receipt: Receipt) -> dict[str, Any]:
    """The stored document as posted, with the server's Entity fields."""
    return {
        **receipt.document,
        "id": str(receipt.uuid),
        "created_at": iso_instant(receipt.created_at),
        "created_by": receipt.created_by,
        "updated_at": iso_instant(receipt.updated_at),
    }


def receipt_to_minimal(receipt: Receipt) -> dict[str, Any]:
    document = receipt.document
    return {
        "id": str(receipt.uuid),
        "created_at": iso_instant(receipt.created_at),
        "created_by": receipt.created_by,
        "updated_at": iso_instant(receipt.updated_at),
        **{name: document[name] for name in MINIMAL_FIELDS if name in document},
    }
