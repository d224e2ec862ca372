"""The discounts app's domain errors (one `DomainError` family, rendered by the API's and the pages' renderers).

Each keeps the Dintero Discounts API's answer: a 400 `validation_error` (or `bad_request` for the update rules)
listing every problem as `{"path", "message"}`, and a 404 `Not found.` for a rule or push that is not there.
`errors` keeps the problems as (path, message) pairs for the forms that list them.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404

from loyalty.core.errors import FieldError, NotFound, ValidationFailed
from loyalty.core.validation import Problems


def _fields(errors: Problems) -> list[FieldError]:
    return [FieldError(path, message) for path, message in errors]


class DiscountValidationError(ValidationFailed):
    """The input breaks the spec's schema; `errors` lists every problem as (path, message). Nothing was written."""

    field_codes = False

    def __init__(self, message: str, errors: Problems):
        super().__init__(message, field_errors=_fields(errors))
        self.errors = errors


class InvalidCursor(DiscountValidationError):
    """A search's `starting_after` that no search returned."""

    def __init__(self, reason: str):
        super().__init__("The query is invalid.", [("starting_after", reason)])
        self.reason = reason


class RuleUpdateError(ValidationFailed):
    """An update the PUT rules forbid (frozen or read-only fields); the message names the rule."""

    default_code = "bad_request"
    field_codes = False

    def __init__(self, rule: Any, problems: Problems):
        name = f'"{rule.name}" ({rule.id})' if rule.name else str(rule.id)
        details = "; ".join(f"{path} {message}" for path, message in problems)
        super().__init__(f"Discount rule {name} cannot be updated: {details}.", field_errors=_fields(problems))
        self.errors = problems


class PushError(ValidationFailed):
    """A push that cannot start (or run); the message says why, and the API names `mode` as the field."""

    default_code = "push_failed"

    def __init__(self, message: str):
        super().__init__(message, field_errors=[FieldError("mode", message, "not_calculated")])


class HoldoutError(ValidationFailed):
    """A holdout a push cannot take (out of range, on a push once, or a change to a link's); names the field."""

    default_code = "invalid_holdout"

    def __init__(self, message: str):
        super().__init__(message, field_errors=[FieldError("holdoutPercent", message, "invalid")])


# Http404 too, until the back-office pages render NotFound themselves (they answer 404 for it today).
class RuleNotFound(NotFound, Http404):
    def __init__(self, rule_id: Any):
        super().__init__("Not found.")
        self.rule_id = rule_id


class PushNotFound(NotFound, Http404):
    def __init__(self) -> None:
        super().__init__("Not found.")


class CampaignNotFound(NotFound, Http404):
    def __init__(self) -> None:
        super().__init__("Not found.")


class AutomationNotFound(NotFound, Http404):
    def __init__(self) -> None:
        super().__init__("Not found.")
