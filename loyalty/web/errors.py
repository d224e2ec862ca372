"""Domain errors on pages: the one place the back-office turns a `DomainError` into what a person sees.

- A page-level `NotFound` is the 404 page and a `Forbidden` the 403 page (`page_errors`, applied by `account_view`
  to every page), so an account's objects are refused the same way whatever refuses them.
- Any other domain error raised while a page calls a service or selector is caught by `domain_errors(form)`:
  its `message` becomes a non-field error and each field error goes onto the form field its API path names
  (`fields` maps paths whose form field is spelled differently); a path no field shows is kept as
  "path: message" among the non-field errors. The view then re-renders the page (status 400) from `caught`.
  `words(path, message)` may put a field error in the form's own words (the API keeps its wording).

Views call services inside `with domain_errors(...)` and contain no `try/except` for domain errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from loyalty.core.errors import DomainError, Forbidden, NotFound

Words = Callable[[str, str], str]


def page_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """`NotFound` → the 404 page, `Forbidden` → the 403 page (Django's handlers render both)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc

    return wrapper


@dataclass
class Caught:
    """What `domain_errors` caught: `error` is None when the block ran through."""

    error: DomainError | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def message(self) -> str | None:
        return self.error.message if self.error else None

    def problems(self) -> list[tuple[str, str]]:
        """(path, message) of each field error, or the message alone under the empty path."""
        if self.error is None:
            return []
        return [(f.path, f.message) for f in self.error.field_errors] or [("", self.error.message)]


@contextmanager
def domain_errors(
    form: Any = None, *, fields: Mapping[str, str] | None = None, words: Words | None = None
) -> Iterator[Caught]:
    """Run a service or selector call; a domain error is caught into the yielded `Caught` and, given a Django
    form, rendered onto it. `NotFound` and `Forbidden` are about the page, not the form: they pass through."""
    caught = Caught()
    try:
        yield caught
    except (NotFound, Forbidden):
        raise
    except DomainError as exc:
        caught.error = exc
        if form is not None:
            render_onto(form, caught.error, fields=fields or {}, words=words)


def render_onto(form: Any, error: DomainError, *, fields: Mapping[str, str], words: Words | None = None) -> None:
    form.add_error(None, error.message)
    for problem in error.field_errors:
        name = fields.get(problem.path, problem.path)
        if name in form.fields:
            form.add_error(name, words(problem.path, problem.message) if words else problem.message)
        elif f"{problem.path} {problem.message}" not in error.message:
            # a problem the message already spells out is not repeated
            form.add_error(None, f"{problem.path}: {problem.message}" if problem.path else problem.message)
