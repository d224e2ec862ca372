"""Bearer JWT authentication for every `/v1/...` and `/api/...` endpoint."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from rest_framework import authentication, exceptions

from loyalty.accounts import tokens
from loyalty.accounts.models import Account
from loyalty.accounts.scopes import USER_SCOPES
from loyalty.accounts.selectors import api_client_account, staff_roles
from loyalty.accounts.services import api_client_touch
from loyalty.api.principal import Principal


def base_url(request) -> str:
    """The base of URLs handed to callers (links in answers). Tokens never use it: their issuer and audiences are
    the deployment's (`tokens.deployment_issuer()`), whatever Host a request came through."""
    from django.conf import settings

    return settings.PUBLIC_BASE_URL or f"{request.scheme}://{request.get_host()}"


class JWTAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip():
            raise exceptions.AuthenticationFailed("Authorization must be `Bearer <access token>`.")
        try:
            claims = tokens.verify_access_token(token.strip())
        except tokens.TokenError as exc:
            raise exceptions.AuthenticationFailed(f"Invalid access token: {exc}.") from exc
        principal = self._principal(claims)
        return principal, claims

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'

    @staticmethod
    def _principal(claims) -> Principal:
        if claims["typ"] == tokens.CLIENT_TOKEN:
            return _client_principal(claims)
        if claims["typ"] == tokens.CUSTOMER_TOKEN:
            return _customer_principal(claims)
        return _staff_principal(claims)


def _require_active_client(client_id: str, aid: str) -> Account:
    """The token's account, read with the check that its client is active. Revoking a client takes effect at once,
    not when its tokens (or the customer tokens it minted) expire: this reads the database on every request."""
    account = api_client_account(client_id=client_id, aid=aid)
    if account is None:
        raise exceptions.AuthenticationFailed("Invalid access token: the client is revoked.")
    api_client_touch(client_id=client_id, now=time.monotonic())
    return account


def _client_principal(claims) -> Principal:
    client_id = claims["sub"]
    account = _require_active_client(client_id, claims["account"])
    return Principal(
        kind="client",
        subject=client_id,
        claims=claims,
        client_account=claims["account"],
        # user scopes act for one customer: a client's token never carries them into a request
        client_scopes=frozenset(claims["scopes"]) - USER_SCOPES,
        account=account,
    )


def _customer_principal(claims) -> Principal:
    account = _require_active_client(claims["azp"], claims["account"])
    return Principal(
        kind="customer",
        subject=f"customer:{claims['customer_id']}"[:255],
        claims=claims,
        client_account=claims["account"],
        client_scopes=frozenset(claims["scopes"]) & USER_SCOPES,
        customer_id=claims["customer_id"],
        account=account,
    )


def _staff_principal(claims) -> Principal:
    user_id = claims["sub"].removeprefix("user:")
    user = get_user_model().objects.filter(pk=user_id if user_id.isdigit() else -1, is_active=True).first()
    if user is None:
        raise exceptions.AuthenticationFailed("Invalid access token: the user is inactive.")
    return Principal(
        kind="staff",
        subject=user.get_username(),
        claims=claims,
        roles=staff_roles(user=user),
        is_superuser=user.is_superuser,
        user=user,
    )
