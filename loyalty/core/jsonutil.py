"""JSON encoding for documents: orjson's speed, the standard library's range."""

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
