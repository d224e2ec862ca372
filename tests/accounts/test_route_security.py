"""Every API route, collected from the URL resolver, refuses what it must: a new route cannot escape these checks."""

from __future__ import annotations

import time

import pytest
from django.urls import resolve

from loyalty.accounts import tokens
from loyalty.accounts.scopes import SCOPES
from tests.accounts.jwt_forgery import forge
from tests.accounts.routes import (
    ROUTES,
    SAMPLE_VALUES,
    accepted_scope_sets,
    call_route,
    required_scopes_of,
    scope_groups_of,
)


def test_routes_are_collected_and_each_declares_scopes():
    assert ROUTES, "no account-scoped API routes were found"
    for route in ROUTES:
        assert required_scopes_of(route), f"{route} declares no required scopes"
        assert set(required_scopes_of(route)) <= SCOPES.keys(), f"{route} requires unknown scopes"
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
    assert call_route(route, account.aid, None).status_code == 401

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
        response = call_route(route, account.aid, token)
        assert response.status_code == 401, f"{route}: {name} token answered {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_route_refuses_other_accounts_and_missing_scopes(route, account, other_account, make_client_token):
    foreign = make_client_token(other_account, list(SCOPES))
    response = call_route(route, account.aid, foreign)
    assert response.status_code == 403, f"{route}: another account's token answered {response.status_code}"

    for group in scope_groups_of(route):
        lacking = make_client_token(account, [s for s in SCOPES if s not in group])
        response = call_route(route, account.aid, lacking)
        assert response.status_code == 403, f"{route}: a token without {group} answered {response.status_code}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "scopes"), [(route, scopes) for route in ROUTES for scopes in accepted_scope_sets(route)], ids=str
)
def test_every_route_accepts_each_of_its_scopes(route, scopes, account, make_client_token, make_customer_token):
    # user scopes are held by customer tokens only, acting for the path's customer
    if any(scope.startswith("user:") for scope in scopes):
        token = make_customer_token(account, SAMPLE_VALUES["customer_id"], scopes)
    else:
        token = make_client_token(account, scopes)
    response = call_route(route, account.aid, token)
    assert response.status_code not in (401, 403), (
        f"{route} with {scopes}: {response.status_code} {response.content[:300]}"
    )
