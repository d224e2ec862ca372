"""Checks on client input that every app shares: what PostgreSQL cannot store, and what a customer id may be."""

from __future__ import annotations

from typing import Any

import orjson

# (path, message) pairs: where the input is wrong and why, in the user's words.
Problems = list[tuple[str, str]]


def customer_id_problems(value: Any, path: str) -> Problems:
    """A customer id is text without leading or trailing spaces and not empty (other types are the schema's job)."""
    if not isinstance(value, str):
        return []
    if value != value.strip():
        return [(path, "must not have leading or trailing spaces")]
    if not value:
        return [(path, "must not be empty")]
    return []


def contains_nul(value: Any) -> bool:
    """PostgreSQL cannot store U+0000 in text or JSONB."""
    if isinstance(value, dict | list):
        # JSON writes U+0000 as the escape \\u0000, so an encoding without that sequence has no NUL (the walk below
        # costs a third of parsing a receipt). With it (or a literal "\\\\u0000" in some text, which also contains
        # the sequence), or with something orjson cannot encode, walk to be exact.
        try:
            encoded = orjson.dumps(value)
        except TypeError:
            return _contains_nul(value)
        if b"\\u0000" not in encoded:
            return False
    return _contains_nul(value)


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False
