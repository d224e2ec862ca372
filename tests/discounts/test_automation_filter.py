"""Automation filters: the compiled SQL/JSON path against an obviously-correct Python reference (hypothesis), the
filter in words, and http actions refused for private targets."""

from __future__ import annotations

import json
import operator

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discounts.automation_filter import compile_filter, filter_problems, resolve
from discounts.selectors.automations import filter_in_words
from discounts.services.deliveries import DeliveryFailed, Request, http_send

# --- the reference ------------------------------------------------------------------------------------------------


def values_at(payload, steps: list) -> list:
    """Walk `steps` (names, indexes, None for [*]); arrays met along the way (and at the end) are unwrapped."""
    found = [payload]
    for step in steps:
        nxt = []
        for value in found:
            if isinstance(step, int):
                if isinstance(value, list):
                    nxt += value[step : step + 1]
                elif step == 0:
                    nxt.append(value)
                continue
            for item in value if isinstance(value, list) else [value]:
                if step is None:
                    nxt += item if isinstance(item, list) else [item]
                elif isinstance(item, dict) and step in item:
                    nxt.append(item[step])
        found = nxt
    out = []
    for value in found:
        out += value if isinstance(value, list) else [value]
    return out


def same_kind(a, b) -> bool:
    """Comparable: the same kind of value, or either is null (null equals only null)."""

    def kind(v):
        return "number" if isinstance(v, int | float) and not isinstance(v, bool) else type(v).__name__

    return a is None or b is None or kind(a) == kind(b)


def compare(value, op: str, other) -> bool:
    if not same_kind(value, other):
        return False
    if op in ("==", "!="):
        return (value == other) == (op == "==")
    if value is None or other is None or not same_kind(value, 0):
        return False
    return {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}[op](value, other)


def comparisons(matcher) -> list[tuple[str, object]]:
    """A matcher as the comparisons that must all hold."""
    if not isinstance(matcher, dict):
        return [("==", matcher)]
    ((name, argument),) = matcher.items()
    if name == "anything-but":
        return [("!=", v) for v in (argument if isinstance(argument, list) else [argument])]
    ops = {"=": "==", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
    return [(ops[argument[i]], argument[i + 1]) for i in range(0, len(argument), 2)]


def satisfies(value, matcher) -> bool:
    """A value that is itself a list (a list in a list) is compared element by element, and each comparison may be
    met by a different element."""
    elements = value if isinstance(value, list) else [value]
    return all(any(compare(e, op, other) for e in elements) for op, other in comparisons(matcher))


def reference(filter_: dict, payload) -> bool:
    from discounts.automation_filter import parse_path

    return all(
        any(satisfies(v, m) for v in values_at(payload, parse_path(key)) for m in matchers)
        for key, matchers in filter_.items()
    )


def engine(filter_: dict, payload) -> bool:
    compiled = compile_filter(filter_)
    if not compiled.condition:
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(jsonb_path_match(%s::jsonb, %s::jsonpath, %s::jsonb, true), false)",
            [json.dumps(payload), compiled.condition, json.dumps(compiled.variables)],
        )
        return cursor.fetchone()[0]


# --- generated data -----------------------------------------------------------------------------------------------

NAMES = st.sampled_from(["store", "id", "amount", "tags", "status"])
SCALARS = st.one_of(
    st.sampled_from(["S1", "S2", "blocked", ""]), st.integers(-3, 3), st.sampled_from([True, False, None, 1.5])
)
NUMBERS = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5]))
OPS = st.sampled_from(["=", "<", "<=", ">", ">="])
MATCHERS = st.one_of(
    SCALARS,
    st.builds(lambda v: {"anything-but": v}, st.one_of(SCALARS, st.lists(SCALARS, min_size=1, max_size=3))),
    st.builds(lambda o, n: {"numeric": [o, n]}, OPS, NUMBERS),
    st.builds(lambda o, n, p, m: {"numeric": [o, n, p, m]}, OPS, NUMBERS, OPS, NUMBERS),
)
KEYS = st.builds(
    lambda steps: "$" + "".join(s if s.startswith("[") else f".{s}" for s in steps),
    st.lists(st.one_of(NAMES, st.sampled_from(["[*]", "[0]", "[1]"])), min_size=1, max_size=3),
)
FILTERS = st.dictionaries(KEYS, st.lists(MATCHERS, min_size=1, max_size=3), min_size=1, max_size=3)
PAYLOADS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NAMES, inner, max_size=4)),
    max_leaves=12,
)


@pytest.mark.django_db
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filter_=FILTERS, payload=st.dictionaries(NAMES, PAYLOADS, max_size=5))
def test_the_compiled_filter_agrees_with_the_reference(filter_, payload):
    assert filter_problems(filter_) == []
    assert engine(filter_, payload) == reference(filter_, payload)


@pytest.mark.django_db
def test_the_specs_examples():
    company = {"type": "company", "status": "open", "addresses": [{"postal_code": "0342"}, {"postal_code": "9999"}]}
    example = {
        "$.type": ["company"],
        "$.status": [{"anything-but": "blocked"}],
        "$.addresses[*].postal_code": ["0342", "6901"],
    }
    assert engine(example, company)
    assert not engine(example, {**company, "status": "blocked"})
    assert not engine(example, {**company, "addresses": [{"postal_code": "1"}]})
    assert not engine({"$.status": [{"anything-but": "blocked"}]}, {"type": "company"})  # absent matches nothing
    amount = {"$.store.id": ["S00129"], "$.gross_amount": [{"numeric": [">", 0, "<=", 1500]}]}
    assert engine(amount, {"store": {"id": "S00129"}, "gross_amount": 1500})
    assert not engine(amount, {"store": {"id": "S00129"}, "gross_amount": 1501})
    assert not engine(amount, {"store": {"id": "S00129"}, "gross_amount": "100"})


def test_keys_cannot_reach_the_path_language():
    for key in ["$.a ? (@ == 1)", '$."a"', "$.a || true", "$..a", "$.a[last]", "@.a", "$['a']", "$.a.*"]:
        assert filter_problems({key: ["x"]}), key
    compiled = compile_filter({"$.a": ['" || true || "']})
    assert compiled.variables == {"v0": '" || true || "'} and '"' not in compiled.condition.replace('"a"', "")


def test_resolve_for_templates():
    event = {"customer_id": "C1", "items": [{"id": "a"}, {"id": "b"}]}
    assert resolve(event, "$.customer_id") == ["C1"]
    assert resolve(event, "$.items[*].id") == ["a", "b"]
    assert resolve(event, "$.items[1].id") == ["b"]
    assert resolve(event, "$.missing") == []


def test_filters_in_words():
    words = filter_in_words(
        {
            "$.store.id": ["S1", "S2"],
            "$.status": [{"anything-but": ["blocked", "closed"]}],
            "$.gross_amount": [{"numeric": [">", 0, "<=", 1500]}],
            "$.metadata.tier": ["gold", 2],
        }
    )
    assert words == [
        "store is S1 or is S2",
        "status is anything but blocked or closed",
        "gross amount is more than 0 and is at most 1500",
        '$.metadata.tier is "gold" or is 2',  # a path we have no words for is shown as written
    ]


def test_amounts_in_words_with_the_callers_currency():
    words = filter_in_words(
        {"$.net_amount": [{"numeric": [">", 50000]}], "$.store.id": [7]}, amount=lambda minor: f"{minor / 100:.2f} NOK"
    )
    assert words == ["net amount is more than 500.00 NOK", "store is 7"]


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "[::1]", "localhost"])
def test_private_and_loopback_targets_are_refused(host, settings):
    settings.AUTOMATIONS_HTTP_ALLOW_PRIVATE = False
    request = Request(method="POST", url=f"http://{host}:9/hook", headers={}, body=b"{}")

    with pytest.raises(DeliveryFailed) as refused:
        http_send(request)

    assert not refused.value.retry and "refused" in str(refused.value)
