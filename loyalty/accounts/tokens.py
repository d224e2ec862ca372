"""Issuing and verifying our JWTs (PyJWT).

HS256 with a key derived from `JWT_SECRET` (default: `SECRET_KEY`) unless `JWT_PRIVATE_KEY` is configured, in
which case RS256 and the public key is served as JWKS. Only the configured algorithm is ever accepted, so neither
`alg: none` nor HS/RS confusion can pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings
from jwt.algorithms import RSAAlgorithm

from loyalty.accounts.scopes import USER_SCOPES
from loyalty.core.errors import DomainError

CLIENT_TOKEN = "client"
STAFF_TOKEN = "staff"
RECEIPT_TOKEN = "receipt"
CUSTOMER_TOKEN = "customer"

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]


class TokenError(DomainError):
    """The token is missing, malformed, expired or not ours; the message says which (safe to show)."""

    status = 401
    default_code = "invalid_token"


@dataclass(frozen=True)
class KeySet:
    algorithm: str
    signing_key: Any
    verifying_key: Any
    kid: str | None


@lru_cache(maxsize=4)
def _keys(private_pem: str, secret: str) -> KeySet:
    if private_pem:
        from cryptography.hazmat.primitives import serialization

        private = serialization.load_pem_private_key(private_pem.encode(), password=None)
        public = private.public_key()
        public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        kid = hashlib.sha256(public_pem.encode()).hexdigest()[:16]
        return KeySet("RS256", private, public, kid)
    # Derive rather than reuse SECRET_KEY directly, so sessions and tokens never share a key.
    key = hmac.new(secret.encode(), b"loyalty.jwt.hs256", hashlib.sha256).hexdigest()
    return KeySet("HS256", key, key, None)


def keys() -> KeySet:
    return _keys(settings.JWT_PRIVATE_KEY, settings.JWT_SECRET)


def jwks() -> dict[str, list[dict[str, Any]]]:
    keyset = keys()
    if keyset.algorithm != "RS256":
        return {"keys": []}
    jwk = json.loads(RSAAlgorithm.to_jwk(keyset.verifying_key))
    jwk.update({"kid": keyset.kid, "use": "sig", "alg": "RS256"})
    return {"keys": [jwk]}


def encode(claims: dict[str, Any], *, ttl: int) -> str:
    keyset = keys()
    now = int(time.time())
    payload = {"iat": now, "nbf": now, "exp": now + ttl, "jti": str(uuid.uuid4()), **claims}
    headers = {"kid": keyset.kid} if keyset.kid else None
    return jwt.encode(payload, keyset.signing_key, algorithm=keyset.algorithm, headers=headers)


def deployment_issuer() -> str:
    """The deployment's `iss` (`JWT_ISSUER`): the same through every host name, never the request's Host."""
    return settings.JWT_ISSUER


def decode(token: str, *, issuer: str | None = None, audience: str | None = None) -> dict[str, Any]:
    """Verify signature, exp, nbf, iat, iss (the deployment's unless given), and aud (when given; else the caller
    checks it)."""
    keyset = keys()
    try:
        return jwt.decode(
            token,
            keyset.verifying_key,
            algorithms=[keyset.algorithm],
            issuer=issuer or deployment_issuer(),
            audience=audience,
            leeway=settings.JWT_LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS, "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("the token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenError("the token is not valid yet") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenError("the token was issued by another server") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenError("the token is for another audience") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError("the token is invalid") from exc


def account_audience(base_url: str, aid: str) -> str:
    return f"{base_url}/v1/accounts/{aid}"


def staff_audience(base_url: str) -> str:
    return f"{base_url}/api"


def client_access_token(*, aid: str, client_id: str, scopes: list[str]) -> tuple[str, int]:
    ttl = settings.JWT_ACCESS_TTL_SECONDS
    base = deployment_issuer()
    token = encode(
        {
            "iss": base,
            "aud": account_audience(base, aid),
            "sub": client_id,
            "typ": CLIENT_TOKEN,
            "account": aid,
            "scope": " ".join(scopes),
            "scopes": list(scopes),
        },
        ttl=ttl,
    )
    return token, ttl


def customer_access_token(*, aid: str, client_id: str, customer_id: str, scopes: list[str], ttl: int) -> str:
    """A token acting for one end customer with `user:*` scopes only; `azp` names the client that minted it (its
    revocation ends the token too)."""
    base = deployment_issuer()
    return encode(
        {
            "iss": base,
            "aud": account_audience(base, aid),
            "sub": f"customer:{customer_id}",
            "typ": CUSTOMER_TOKEN,
            "account": aid,
            "customer_id": customer_id,
            "azp": client_id,
            "scope": " ".join(scopes),
            "scopes": list(scopes),
        },
        ttl=ttl,
    )


def staff_access_token(*, user_id: int, username: str) -> tuple[str, int]:
    ttl = settings.JWT_ACCESS_TTL_SECONDS
    base = deployment_issuer()
    token = encode(
        {
            "iss": base,
            "aud": staff_audience(base),
            "sub": f"user:{user_id}",
            "typ": STAFF_TOKEN,
            "username": username,
        },
        ttl=ttl,
    )
    return token, ttl


def _check_account_token(claims: dict[str, Any], base: str) -> None:
    account = claims.get("account")
    if not isinstance(account, str) or claims.get("aud") != account_audience(base, account):
        raise TokenError("the token is for another audience")
    if not isinstance(claims.get("scopes"), list):
        raise TokenError("the token carries no scopes")


def _check_customer_token(claims: dict[str, Any]) -> None:
    if not isinstance(claims.get("customer_id"), str) or not isinstance(claims.get("azp"), str):
        raise TokenError("the token names no customer")
    if not set(claims["scopes"]) <= USER_SCOPES:
        raise TokenError("a customer token carries only user scopes")


def verify_access_token(token: str) -> dict[str, Any]:
    """Verify an API access token (client, customer or staff) and check its audience matches its kind."""
    base = deployment_issuer()
    claims = decode(token, issuer=base)
    kind = claims.get("typ")
    if kind in (CLIENT_TOKEN, CUSTOMER_TOKEN):
        _check_account_token(claims, base)
        if kind == CUSTOMER_TOKEN:
            _check_customer_token(claims)
    elif kind == STAFF_TOKEN:
        if claims.get("aud") != staff_audience(base):
            raise TokenError("the token is for another audience")
    else:
        raise TokenError("the token is not an access token")
    return claims
