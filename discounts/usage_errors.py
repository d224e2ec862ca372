"""The domain errors of claims, customer refs and usage (the `DomainError` family; the API renders them once).

The spec declares only 400 and 404 for these operations: a conflict is a 400 with its own `code`.
"""

from __future__ import annotations

from django.http import Http404

from loyalty.core.errors import FieldError, NotFound, ValidationFailed


class ClaimInvalid(ValidationFailed):
    """A claim that names what it cannot claim; `errors` lists (path, message). Nothing was written."""

    field_codes = False

    def __init__(self, message: str, errors: list[tuple[str, str]], *, code: str | None = None):
        super().__init__(message, code=code, field_errors=[FieldError(path, text) for path, text in errors])
        self.errors = errors


class UsageLimitReached(ClaimInvalid):
    """A claim that would take a ref past `discount_reward_usage` or `discount_repeat_usage`."""

    default_code = "discount_usage_limit"


class ClaimRefConflict(ValidationFailed):
    """The claim's `ref` belongs to another claim with other content (the spec: "reuse of ref will result in
    conflict"; it declares no 409)."""

    default_code = "claim_ref_conflict"

    def __init__(self, ref: str, claim_id: str):
        super().__init__(
            f"The ref {ref!r} belongs to claim {claim_id}, which claimed something else; "
            "a ref is claimed once (resend the same claim to read it back).",
            field_errors=[FieldError("ref", "is already used by another claim", "claim_ref_conflict")],
        )


class RefDeleted(ValidationFailed):
    """The spec's 400 "Discount ref already deleted"."""

    default_code = "ref_deleted"

    def __init__(self) -> None:
        super().__init__("Discount ref already deleted.")


class UsageRefInvalid(ValidationFailed):
    """The spec's 400 "Update invalid" for a usage ref, naming the field."""

    field_codes = False

    def __init__(self, message: str, errors: list[tuple[str, str]]):
        super().__init__(message, field_errors=[FieldError(path, text) for path, text in errors])
        self.errors = errors


class ClaimNotFound(NotFound, Http404):
    def __init__(self) -> None:
        super().__init__("Not found.")


class RefNotFound(NotFound, Http404):
    def __init__(self) -> None:
        super().__init__("Discount ref not found.")
