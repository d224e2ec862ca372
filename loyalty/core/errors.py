"""The one family of domain errors.

Services and selectors raise these; each API family renders them once (`loyalty.api.errors`) and the back-office
renders them once onto forms and pages (`loyalty.web`). A view never catches them.

A `DomainError` carries a machine `code`, a `message` in the user's words, optional `field_errors` (each names the
request path it is about, e.g. `parts[0].criteria[1].days`) and the HTTP `status` it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str
    code: str = "invalid"


class DomainError(Exception):
    """Something the caller asked that the domain refuses; never a bug (those stay ordinary exceptions)."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"
    # Whether a rendered field error carries its `code`: the Dintero discounts API's 400s list only path and message.
    field_codes: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field_errors: list[FieldError] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field_errors = list(field_errors or [])
        if status is not None:
            self.status = status  # type: ignore[misc]

    @classmethod
    def for_field(cls, path: str, message: str, *, code: str = "invalid") -> DomainError:
        """One invalid field: the message leads, and the field error names where it is."""
        return cls(message, field_errors=[FieldError(path, message, code)])


class ValidationFailed(DomainError):
    status = 400
    default_code = "validation_error"


class NotFound(DomainError):
    status = 404
    default_code = "not_found"

    def __init__(self, message: str = "Not found.", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class Forbidden(DomainError):
    status = 403
    default_code = "forbidden"


class Conflict(DomainError):
    """The request collides with the current state (409, or 400 where a family's spec declares no 409)."""

    status = 409
    default_code = "conflict"
