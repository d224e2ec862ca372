"""Receipt tokens: JWTs we sign into a receipt's extra_info so its owner can fetch and claim it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.accounts import tokens
from receipts.errors import InvalidReceiptToken

AUDIENCE_SUFFIX = "/receipts/receipt-token"


def receipt_token_audience(base_url: str, aid: str) -> str:
    return f"{tokens.account_audience(base_url, aid)}{AUDIENCE_SUFFIX}"


def receipt_token_issue(
    *,
    base_url: str,
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
            "iss": base_url,
            "aud": receipt_token_audience(base_url, aid),
            "sub": receipt_uuid,
            "typ": tokens.RECEIPT_TOKEN,
            "account": aid,
            "receipt_id": receipt_id,
            "store_id": store_id,
            "customer_id": customer_id,
        },
        ttl=max(1, int((expires_at - now).total_seconds())),
    )


def receipt_token_verify(token: str, *, base_url: str, aid: str) -> dict[str, Any]:
    """The token's claims; `InvalidReceiptToken` (expired, foreign, forged) with a message safe to show."""
    try:
        claims = tokens.decode(token, issuer=base_url, audience=receipt_token_audience(base_url, aid))
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
