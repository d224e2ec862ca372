"""The JSON body parser walks only the containers of a body that can hide nothing but depth, with the same answers.

Every batch of receipts has more than MAX_DEPTH brackets, so the parser used to walk the whole decoded body
(every string encoded to look for lone surrogates). A UTF-8 body without NUL or surrogate escapes and without
surrogates written as bytes can only be too deep, and for those the parser now walks containers only. These
bodies pin that it refuses exactly what the full walk (`_problem`) refused, with the same message.
"""

from __future__ import annotations

import io
import json

import pytest
from rest_framework.exceptions import ParseError

from loyalty.api.parsers import MAX_DEPTH, SUSPICIOUS, JSONParser, _max_depth_possible, _problem
from tests.receipts.factories import receipt


def _nested(depth: int, inner: str = "[]", opener: str = "[") -> str:
    """`inner` inside `depth` containers (the outermost is at depth 0)."""
    closer = {"[": "]", "{": "}"}[opener]
    open_, close = ('{"k":', "}") if opener == "{" else ("[", closer)
    return open_ * depth + inner + close * depth


def _batch(extra: object) -> str:
    # a body long enough to have more than MAX_DEPTH brackets, like any batch of receipts
    return json.dumps([receipt() for _ in range(20)] + [extra])


def _outcome(parse, raw: bytes) -> object:
    try:
        return ("ok", parse(raw))
    except ParseError as exc:
        return ("refused", str(exc.detail))


def _new(raw: bytes) -> object:
    return JSONParser().parse(io.BytesIO(raw))


def _old(raw: bytes) -> object:
    """The parser before: the full walk whenever the bracket count or an escape could hide something."""
    data = json.loads(raw)
    if _max_depth_possible(raw) > MAX_DEPTH or SUSPICIOUS.search(raw):
        problem = _problem(data)
        if problem:
            raise ParseError(f"The body is not acceptable: {problem}.")
    return data


BODIES = {
    "a batch of receipts": _batch(None).encode(),
    "a value at the limit": _nested(MAX_DEPTH, "1").encode(),
    "a value one deeper": _nested(MAX_DEPTH + 1, "1").encode(),
    "an empty list at the limit": _nested(MAX_DEPTH).encode(),
    "an empty list one deeper": _nested(MAX_DEPTH + 1).encode(),
    "objects to the limit": _nested(MAX_DEPTH, "1", "{").encode(),
    "objects one deeper": _nested(MAX_DEPTH + 1, "1", "{").encode(),
    "an empty object at the limit": _nested(MAX_DEPTH, "{}", "{").encode(),
    "an empty object one deeper": _nested(MAX_DEPTH + 1, "{}", "{").encode(),
    "deep inside a batch": _batch(json.loads(_nested(70))).encode(),
    "NUL escape in a batch": _batch("a\x00b").encode(),
    "surrogate escape in a batch": _batch("a\ud800b").encode(),
    "paired surrogate escapes in a batch": _batch("\U0001f600").encode(),
    "encoded surrogate bytes in a batch": _batch("x").replace('"x"', '"a\udc80b"').encode("utf-8", "surrogatepass"),
    "UTF-8 with a BOM": b"\xef\xbb\xbf" + _batch(None).encode(),
    "UTF-16 with a NUL escape": _batch("a\x00b").encode("utf-16"),
    "UTF-16 deep": _nested(MAX_DEPTH + 1, "1").encode("utf-16-le"),
    "brackets inside strings": _batch("[[[[{{{{" * 20).encode(),
}


@pytest.mark.parametrize("raw", list(BODIES.values()), ids=list(BODIES))
def test_the_parser_refuses_what_the_full_walk_refused(raw):
    assert _outcome(_new, raw) == _outcome(_old, raw)


def test_the_bodies_cover_both_answers():
    outcomes = [_outcome(_new, raw)[0] for raw in BODIES.values()]
    assert outcomes.count("refused") >= 6 and outcomes.count("ok") >= 6
