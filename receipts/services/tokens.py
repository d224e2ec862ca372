"""Receipt tokens: JWTs we sign into a receipt's extra_info so its owner can fetch and claim it.

Their issuer and audience are the deployment's (`tokens.deployment_issuer()`), never the Host a request came
through: a token printed through one host name of the deployment works through every other."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.accounts import tokens
from receipts.errors import InvalidReceiptToken

AUDIENCE_SUFFIX = "/receipts/receipt-token"


def receipt_token_audience(aid: str) -> str:
    return f"{tokens.account_audience(tokens.deployment_issuer(), aid)}{AUDIENCE_SUFFIX}"


def receipt_token_issue(
    *,
    aid: str,
    receipt_uuid: str,
    receipt_id: str,
    store_id: str,
    customer_id: str | None,
    expires_at: datetime,
) -> str:
    now = datetime.now(expires_at.tzinfo)
    return tokens.encode(
        {
            "iss": tokens.deployment_issuer(),
            "aud": receipt_token_audience(aid),
            "sub": receipt_uuid,
            "typ": tokens.RECEIPT_TOKEN,
            "account": aid,
            "receipt_id": receipt_id,
            "store_id": store_id,
            "customer_id": customer_id,
        },
        ttl=max(1, int((expires_at - now).total_seconds())),
    )


def receipt_token_verify(token: str, *, aid: str) -> dict[str, Any]:
    """The token's claims; `InvalidReceiptToken` (expired, foreign, forged) with a message safe to show."""
    try:
        claims = tokens.decode(token, audience=receipt_token_audience(aid))
    except tokens.TokenError as exc:
        raise InvalidReceiptToken(f"Invalid receipt token: {exc}.") from exc
    if (
        claims.get("typ") != tokens.RECEIPT_TOKEN
        or claims.get("account") != aid
        or not isinstance(claims.get("receipt_id"), str)
        or not isinstance(claims.get("store_id"), str)
    ):
        raise InvalidReceiptToken("Invalid receipt token: the token is not a receipt token of this account.")
    return claims
