"""The API routes collected from the URL resolver, with how to call each one: shared by the route-security tests."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.test import APIClient

from loyalty.api.auth import ClientTokenView, StaffLoginView, TokenRefreshView
from loyalty.api.permissions import scope_groups
from loyalty.api.views import AccountAPIView, api_not_found

PUBLIC_API_VIEWS = {ClientTokenView, StaffLoginView, TokenRefreshView, SpectacularAPIView, SpectacularSwaggerSplitView}
SAMPLE_VALUES = {
    "receipt_id": "R-1",
    "customer_id": "C-1",
    "resourceName": "reward",
}
SAMPLE_ID = "0f0e0d0c-0b0a-4908-8706-050403020100"


@dataclass(frozen=True)
class Route:
    template: str  # with {aid} for the account
    view_class: type
    method: str

    def path(self, aid: str) -> str:
        return self.template.replace("{aid}", aid)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.template}"


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + _concrete(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + _concrete(entry.pattern), entry.callback


def _value(name: str) -> str:
    if name in {"aid", "storeCode"}:
        return "{aid}"
    return SAMPLE_VALUES.get(name, SAMPLE_ID)


def _concrete(pattern) -> str:
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: _value(m.group(1)), text)
        text = text.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\", "")
    else:
        text = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: _value(m.group(1)), text)
    return text


def _view_class(callback):
    return getattr(callback, "cls", None) or getattr(callback, "view_class", None)


def collect_api_routes() -> list[Route]:
    routes: list[Route] = []
    for template, callback in _walk(get_resolver().url_patterns):
        if not template.startswith(("v1/", "api/")) or callback is api_not_found:
            continue
        cls = _view_class(callback)
        if cls in PUBLIC_API_VIEWS:
            continue
        assert cls is not None and issubclass(cls, AccountAPIView), (
            f"/{template} is an API route that is neither account-scoped nor a known public endpoint"
        )
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(cls, method):
                routes.append(Route("/" + template, cls, method))
    return routes


ROUTES = collect_api_routes()


def call_route(route: Route, aid: str, token: str | None):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    call = getattr(client, route.method)
    return call(route.path(aid), {}, format="json") if route.method != "get" else call(route.path(aid))


def scope_groups_of(route: Route) -> list[tuple[str, ...]]:
    return scope_groups(route.view_class.required_scopes.get(route.method.upper(), ()))


def required_scopes_of(route: Route) -> tuple[str, ...]:
    return tuple(scope for group in scope_groups_of(route) for scope in group)


def accepted_scope_sets(route: Route) -> list[list[str]]:
    """Every way to hold what the operation needs: one scope of each group."""
    return [list(combination) for combination in itertools.product(*scope_groups_of(route))]
