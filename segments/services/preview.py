"""The builder's live preview, its write half: building the read models the definition's valid parts read, before
the preview selector (segments.selectors.definition_preview) counts them without writing."""

from __future__ import annotations

from typing import Any

from loyalty.accounts.models import Account
from segments import engine
from segments.criteria import validate_parts_each


def preview_prepare(*, account: Account, parts: Any) -> engine.Preparation:
    """Build (outside any transaction) the purchase windows and code buyers of the parts that validate; the preview
    selector compiles against the answer, with the same clock."""
    valid, _ = validate_parts_each(parts)
    return engine.definition_prepare(account=account, parts=[p for p in valid if p is not None])
