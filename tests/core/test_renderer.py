"""`FastJSONRenderer` (orjson where it writes the same bytes) against DRF's `JSONRenderer` on generated values: the
same bytes, or the same refusal, for anything JSON holds and for what only DRF's encoder knows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.renderers import JSONRenderer

from loyalty.api.renderers import FastJSONRenderer

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and the infinities too: DRF refuses them
    | st.sampled_from([1e-05, 8.3e-07, 1e-10, 0.0001, 1e16, 1.5e300, 5e-324, -0.0, 10.0, 1 / 3])
    | st.sampled_from([float("nan"), float("inf"), float("-inf")])
    | st.text()  # lone surrogates too: both fail to encode them
    | st.sampled_from(["a\u2028b", "\u2029", "e-5,", "0.00001", "null", "ø", "\x00\x1f\x7f"])
    | st.uuids()
    | st.datetimes(timezones=st.just(UTC))
    | st.decimals(allow_nan=False)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(max_size=5), inner, max_size=5)
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),  # keys DRF's encoder turns into strings
    max_leaves=30,
)


def _rendered(renderer, value: object, media_type: str | None = None) -> object:
    try:
        return renderer.render(value, media_type, {})
    except Exception as exc:  # the refusal itself is what must match
        return type(exc)


@settings(max_examples=600, deadline=None)
@given(VALUES)
def test_same_bytes_or_the_same_refusal_as_drf(value):
    assert _rendered(FastJSONRenderer(), value) == _rendered(JSONRenderer(), value)


def test_a_till_answer_like_value_takes_orjson_and_matches():
    value = {
        "id": str(uuid.uuid4()),
        "items": [{"line_id": n, "amount": 4990 + n, "percentage": 12.5, "groups": [{"id": "g"}]} for n in range(20)],
        "discounts": [{"name": "ø \u2028", "value": Decimal("1.5"), "at": datetime.now(UTC)}],
        "is_changed": True,
    }
    assert FastJSONRenderer().render(value) == JSONRenderer().render(value)
    plain = {**value, "discounts": []}
    assert FastJSONRenderer().render(plain) == JSONRenderer().render(plain)


def test_an_indented_answer_is_drfs():
    value = {"a": [1, 2.5, "x"]}
    media_type = "application/json; indent=4"
    assert _rendered(FastJSONRenderer(), value, media_type) == _rendered(JSONRenderer(), value, media_type)
