"""The receipts app's domain errors, each a `DomainError` with the code and status its API responses carry."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from loyalty.api.errors import DinteroError
from loyalty.core.errors import DomainError, FieldError, NotFound


class ReceiptValidationError(DinteroError):
    """The batch is invalid; `errors` lists every problem as {index, path, message}. Nothing was stored.

    A `DinteroError` (itself a `DomainError`): the Dintero body lists each problem with the index of its receipt in
    the batch (and an empty list for a body that is not a batch), which `DomainError`'s field errors cannot carry; the
    renderer emits `errors` exactly as given."""

    status = 400
    default_code = "validation_error"

    def __init__(self, message: str, errors: list[dict[str, Any]]):
        super().__init__(self.status, self.default_code, message, errors)


class ReceiptRuleError(DomainError):
    """A change the API's rules forbid; the message names the rule."""

    status = 400
    default_code = "bad_request"


class InvalidCursor(DomainError):
    """A paging cursor that no page of this list handed out."""

    status = 400
    default_code = "bad_request"


class AmbiguousReceipt(DomainError):
    """A POS receipt id that several stores use, asked for without a store."""

    status = 400
    default_code = "bad_request"

    def __init__(self, receipt_id: str, store_ids: list[str]):
        super().__init__(
            f"Receipt {receipt_id} exists in several stores ({', '.join(store_ids)}); "
            "pick one with the store_id query parameter."
        )


class ReceiptNotFound(NotFound, Http404):
    """No such receipt or customer in this account.

    Also an `Http404` so the back-office pages, which do not render `DomainError` yet, still answer 404; the API
    renders it as a `NotFound` (`DomainError` is matched first)."""


class InvalidReceiptToken(DomainError):
    """A receipt token that is expired, forged, another account's, or already spent."""

    status = 400
    default_code = "invalid_token"


__all__ = [
    "AmbiguousReceipt",
    "FieldError",
    "InvalidCursor",
    "InvalidReceiptToken",
    "ReceiptNotFound",
    "ReceiptRuleError",
    "ReceiptValidationError",
]
