"""JSON for documents: orjson's speed, the standard library's range."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text. orjson refuses integers beyond 64 bits; documents are lossless, so those fall back."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """What json.loads answers, at orjson's speed. orjson refuses what the standard library reads (integers beyond
    64 bits, NaN, lone surrogates); those fall back."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
