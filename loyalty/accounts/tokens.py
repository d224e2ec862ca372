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

from loyalty.core.errors import DomainError

CLIENT_TOKEN = "client"
STAFF_TOKEN = "staff"
RECEIPT_TOKEN = "receipt"

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


def decode(token: str, *, issuer: str, audience: str | None = None) -> dict[str, Any]:
    """Verify signature, exp, nbf, iat, iss, and aud (when given; else the caller checks it)."""
    keyset = keys()
    try:
        return jwt.decode(
            token,
            keyset.verifying_key,
            algorithms=[keyset.algorithm],
            issuer=issuer,
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


def client_access_token(*, base_url: str, aid: str, client_id: str, scopes: list[str]) -> tuple[str, int]:
    ttl = settings.JWT_ACCESS_TTL_SECONDS
    token = encode(
        {
            "iss": base_url,
            "aud": account_audience(base_url, aid),
            "sub": client_id,
            "typ": CLIENT_TOKEN,
            "account": aid,
            "scope": " ".join(scopes),
            "scopes": list(scopes),
        },
        ttl=ttl,
    )
    return token, ttl


def staff_access_token(*, base_url: str, user_id: int, username: str) -> tuple[str, int]:
    ttl = settings.JWT_ACCESS_TTL_SECONDS
    token = encode(
        {
            "iss": base_url,
            "aud": staff_audience(base_url),
            "sub": f"user:{user_id}",
            "typ": STAFF_TOKEN,
            "username": username,
        },
        ttl=ttl,
    )
    return token, ttl


def verify_access_token(token: str, *, base_url: str) -> dict[str, Any]:
    """Verify an API access token (client or staff) and check its audience matches its kind."""
    claims = decode(token, issuer=base_url)
    kind = claims.get("typ")
    if kind == CLIENT_TOKEN:
        account = claims.get("account")
        if not isinstance(account, str) or claims.get("aud") != account_audience(base_url, account):
            raise TokenError("the token is for another audience")
        if not isinstance(claims.get("scopes"), list):
            raise TokenError("the token carries no scopes")
    elif kind == STAFF_TOKEN:
        if claims.get("aud") != staff_audience(base_url):
            raise TokenError("the token is for another audience")
    else:
        raise TokenError("the token is not an access token")
    return claims
