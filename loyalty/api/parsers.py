"""Request parsing for both API families: bounded, strict, and never a 500 on bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 64
# escapes that can smuggle what PostgreSQL cannot store: NUL, and UTF-16 surrogates (which may be lone)
SUSPICIOUS = re.compile(rb"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
# a surrogate (U+D800-U+DFFF) written as UTF-8 bytes, which json.loads decodes ("surrogatepass")
UTF8_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")


class RequestTooLarge(ParseError):
    status_code = 413
    default_detail = "The body is too large."
    default_code = "payload_too_large"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _problem(value: Any, depth: int = 0) -> str | None:
    """The first thing PostgreSQL or our renderers cannot take: too deep, NUL, or a lone surrogate."""
    if depth > MAX_DEPTH:
        return f"JSON nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        return _text_problem(value)
    children: Iterator[Any]
    if isinstance(value, dict):
        children = (child for pair in value.items() for child in pair)
    elif isinstance(value, list):
        children = iter(value)
    else:
        return None
    return next((problem for child in children if (problem := _problem(child, depth + 1))), None)


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "text must not contain NUL (\\u0000) characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text must be valid Unicode (a lone surrogate escape was found)"
    return None


def _too_deep(container: dict | list, depth: int) -> bool:
    """Whether anything inside `container` (itself at `depth`) sits deeper than MAX_DEPTH, as _problem counts."""
    if depth >= MAX_DEPTH:
        return bool(container)  # its keys and items are at depth + 1
    for child in container.values() if isinstance(container, dict) else container:
        if isinstance(child, (dict, list)) and _too_deep(child, depth + 1):  # a tuple: faster than dict | list
            return True
    return False


def _max_depth_possible(raw: bytes) -> int:
    """An upper bound of the nesting: the count of opening brackets (exact enough to skip the walk for most bodies)."""
    return raw.count(b"[") + raw.count(b"{")


class JSONParser(parsers.JSONParser):
    """The standard library's parser (it keeps big integers exact: documents are stored losslessly) with a size
    limit, strict numbers (no NaN/Infinity), and a check for what PostgreSQL cannot store."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"The body is larger than {limit:,} bytes.")
        if not raw.strip():
            raise ParseError("The body is empty; send a JSON document.")
        try:
            data = json.loads(raw, parse_constant=_reject_constant)
        except RecursionError as exc:
            raise ParseError("The body is not acceptable: JSON nested too deeply.") from exc
        except ValueError as exc:  # includes bad UTF-8
            raise ParseError(f"The body is not valid JSON (UTF-8): {exc}") from exc
        problem = None
        if SUSPICIOUS.search(raw):
            problem = _problem(data)
        elif _max_depth_possible(raw) > MAX_DEPTH:
            # UTF-8 without those escapes and without encoded surrogates (json.loads lets them through) has no NUL
            # and no lone surrogate, so depth is all _problem could find; walking only the containers costs a third
            # of it, and every batch of receipts gets here.
            if json.detect_encoding(raw) in ("utf-8", "utf-8-sig") and not UTF8_SURROGATE.search(raw):
                if isinstance(data, dict | list) and _too_deep(data, 0):
                    problem = f"JSON nested deeper than {MAX_DEPTH} levels"
            else:
                problem = _problem(data)
        if problem:
            raise ParseError(f"The body is not acceptable: {problem}.")
        return data
