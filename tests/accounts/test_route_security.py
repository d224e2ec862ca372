"""Every API route, collected from the URL resolver, refuses what it must: a new route cannot escape these checks."""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.test import APIClient

from loyalty.accounts import tokens
from loyalty.accounts.scopes import SCOPES
from loyalty.api.auth import ClientTokenView, StaffLoginView, TokenRefreshView
from loyalty.api.permissions import scope_groups
from loyalty.api.views import AccountAPIView, api_not_found
from tests.accounts.jwt_forgery import forge

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


def _call(route: Route, aid: str, token: str | None):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    call = getattr(client, route.method)
    return call(route.path(aid), {}, format="json") if route.method != "get" else call(route.path(aid))


def _groups(route: Route) -> list[tuple[str, ...]]:
    return scope_groups(route.view_class.required_scopes.get(route.method.upper(), ()))


def _required(route: Route) -> tuple[str, ...]:
    return tuple(scope for group in _groups(route) for scope in group)


def _accepted_scope_sets(route: Route) -> list[list[str]]:
    """Every way to hold what the operation needs: one scope of each group."""
    return [list(combination) for combination in itertools.product(*_groups(route))]


def test_routes_are_collected_and_each_declares_scopes():
    assert ROUTES, "no account-scoped API routes were found"
    for route in ROUTES:
        assert _required(route), f"{route} declares no required scopes"
        assert set(_required(route)) <= SCOPES.keys(), f"{route} requires unknown scopes"
        assert resolve(route.path("T00000001")).func.cls is route.view_class


def _claims(account: str, client_id: str, scopes: list[str], **overrides) -> dict:
    now = int(time.time())
    return {
        "iss": "http://testserver",
        "aud": f"http://testserver/v1/accounts/{account}",
        "sub": client_id,
        "typ": "client",
        "account": account,
        "scope": " ".join(scopes),
        "scopes": scopes,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "j",
    } | overrides


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_refuses_missing_and_forged_tokens(route, account, make_client_token):
    assert _call(route, account.aid, None).status_code == 401

    valid = make_client_token(account, list(SCOPES))
    client_id = tokens.decode(valid, issuer="http://testserver")["sub"]
    secret = tokens.keys().signing_key
    all_scopes = list(SCOPES)

    expired = forge(
        _claims(account.aid, client_id, all_scopes, exp=int(time.time()) - 120), alg="HS256", key=secret.encode()
    )
    bad_signature = valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB")
    alg_none = forge(_claims(account.aid, client_id, all_scopes), alg="none")
    other_issuer = forge(
        _claims(account.aid, client_id, all_scopes, iss="http://evil"), alg="HS256", key=secret.encode()
    )

    for name, token in [
        ("expired", expired),
        ("bad signature", bad_signature),
        ("alg none", alg_none),
        ("issuer", other_issuer),
    ]:
        response = _call(route, account.aid, token)
        assert response.status_code == 401, f"{route}: {name} token answered {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_refuses_other_accounts_and_missing_scopes(route, account, other_account, make_client_token):
    foreign = make_client_token(other_account, list(SCOPES))
    response = _call(route, account.aid, foreign)
    assert response.status_code == 403, f"{route}: another account's token answered {response.status_code}"

    for group in _groups(route):
        lacking = make_client_token(account, [s for s in SCOPES if s not in group])
        response = _call(route, account.aid, lacking)
        assert response.status_code == 403, f"{route}: a token without {group} answered {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "scopes"), [(route, scopes) for route in ROUTES for scopes in _accepted_scope_sets(route)], ids=str
)
def test_every_route_accepts_each_of_its_scopes(route, scopes, account, make_client_token, make_customer_token):
    # user scopes are held by customer tokens only, acting for the path's customer
    if any(scope.startswith("user:") for scope in scopes):
        token = make_customer_token(account, SAMPLE_VALUES["customer_id"], scopes)
    else:
        token = make_client_token(account, scopes)
    response = _call(route, account.aid, token)
    assert response.status_code not in (401, 403), (
        f"{route} with {scopes}: {response.status_code} {response.content[:300]}"
    )
