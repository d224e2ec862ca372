"""Automation filters: the spec's JSONPath keys and value matchers, checked and compiled to one SQL/JSON path.

A filter maps JSONPath keys to lists of matchers: exact values (`"S001"`, `5`, `true`, `null`),
`{"anything-but": value or [values]}` and `{"numeric": [op, number, (op, number)]}` with op one of `=`, `<`, `<=`,
`>`, `>=`. A key matches when some value it resolves to satisfies some matcher (OR within a key); the filter
matches when every key does (AND across keys). A key that resolves to nothing matches nothing, `anything-but`
included. Values compare like for like (a number never equals a string, nor is it "anything but" one);
null compares with anything and equals only null. A value that is itself a list (a list in a list) is compared
element by element, each comparison by any element (PostgreSQL's lax unwrapping; the test's reference says the same).

Keys are a small JSONPath subset (`$`, `.name`, `[n]`, `[*]`), re-emitted with quoted names, and every literal
travels as a jsonpath variable: no client text is ever spliced into the path. PostgreSQL evaluates the result with
`jsonb_path_match(payload, condition, vars)` (lax mode: arrays along the way are unwrapped, as `[*]` would).
Pure functions; `resolve` is the same subset in Python, for http action templates.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from loyalty.core.validation import Problems

STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\*|\d{1,6})\]")
NUMERIC_OPS = {"=": "==", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
MAX_KEYS = 20
MAX_VALUES = 100
MAX_KEY_LENGTH = 200

Step = str | int | None  # a name, an index, or None for [*]


def parse_path(key: Any) -> list[Step] | None:
    """The steps of a `$.a.b[0][*]` key, or None when it is not one."""
    if not isinstance(key, str) or not key.startswith("$") or len(key) > MAX_KEY_LENGTH:
        return None
    steps: list[Step] = []
    position = 1
    while position < len(key):
        found = STEP.match(key, position)
        if found is None:
            return None
        name, index = found.groups()
        steps.append(name if name is not None else (None if index == "*" else int(index)))
        position = found.end()
    return steps


def _scalar(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    return isinstance(value, int | float) and math.isfinite(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _matcher_problem(matcher: Any) -> str | None:
    if _scalar(matcher):
        return None
    if not isinstance(matcher, dict) or len(matcher) != 1:
        return 'must be a value, {"anything-but": ...} or {"numeric": [...]}'
    ((kind, argument),) = matcher.items()
    if kind == "anything-but":
        values = argument if isinstance(argument, list) else [argument]
        if not values or not all(_scalar(v) for v in values):
            return "anything-but takes a value or a non-empty list of values"
        return None
    if kind == "numeric":
        ok = (
            isinstance(argument, list)
            and len(argument) in (2, 4)
            and all(argument[i] in NUMERIC_OPS for i in range(0, len(argument), 2))
            and all(_number(argument[i]) for i in range(1, len(argument), 2))
        )
        return None if ok else "numeric takes [op, number] or [op, number, op, number]; op is =, <, <=, > or >="
    return f"unknown matcher {kind!r} (exact values, anything-but and numeric are supported)"


def filter_problems(value: Any, path: str = "requirement.filter") -> Problems:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [(path, "must be an object of JSONPath keys")]
    if len(value) > MAX_KEYS:
        return [(path, f"must have at most {MAX_KEYS} keys")]
    problems: Problems = []
    for key, matchers in value.items():
        where = f"{path}.{key}"
        if parse_path(key) is None:
            problems.append((where, "must be a JSONPath like $.store.id or $.items[*].id"))
            continue
        if not isinstance(matchers, list) or not matchers or len(matchers) > MAX_VALUES:
            problems.append((where, f"must be a list of 1 to {MAX_VALUES} values"))
            continue
        for index, matcher in enumerate(matchers):
            problem = _matcher_problem(matcher)
            if problem:
                problems.append((f"{where}[{index}]", problem))
    return problems


@dataclass(frozen=True)
class Compiled:
    condition: str  # "" when the filter is empty: everything matches
    variables: dict[str, Any]


def _sql_path(steps: list[Step]) -> str:
    out = "$"
    for step in steps:
        if step is None:
            out += "[*]"
        elif isinstance(step, int):
            out += f"[{step}]"
        else:
            out += "." + json.dumps(step)  # a quoted name; the pattern allows no quote or backslash in it
    return out


class _Variables:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"v{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def _predicate(matcher: Any, variables: _Variables) -> str:
    if not isinstance(matcher, dict):
        return f"@ == {variables.add(matcher)}"
    ((kind, argument),) = matcher.items()
    if kind == "anything-but":
        values = argument if isinstance(argument, list) else [argument]
        # like for like: a value of another type is not "anything but" these (it is not comparable at all)
        return " && ".join(f"@ != {variables.add(v)}" for v in values)
    pairs = [(NUMERIC_OPS[argument[i]], argument[i + 1]) for i in range(0, len(argument), 2)]
    return " && ".join(f"@ {op} {variables.add(number)}" for op, number in pairs)


def compile_filter(value: dict[str, Any] | None) -> Compiled:
    """A valid filter (see filter_problems) as one jsonpath predicate and its variables."""
    if not value:
        return Compiled("", {})
    variables = _Variables()
    keys = []
    for key, matchers in value.items():
        steps = parse_path(key)
        assert steps is not None  # validated
        alternatives = " || ".join(f"({_predicate(m, variables)})" for m in matchers)
        keys.append(f"exists({_sql_path(steps)} ? ({alternatives}))")
    return Compiled(" && ".join(keys), variables.values)


def resolve(payload: Any, key: str) -> list[Any]:
    """The values a key resolves to in `payload` (lax: arrays along the way are unwrapped), in order."""
    steps = parse_path(key)
    if steps is None:
        return []
    found = [payload]
    for step in steps:
        following: list[Any] = []
        for value in found:
            items = value if isinstance(value, list) and not isinstance(step, int) else [value]
            for item in items:
                if step is None:
                    following.extend(item if isinstance(item, list) else [item])
                elif isinstance(step, int):
                    if isinstance(item, list):
                        following.extend(item[step : step + 1])
                    elif step == 0:  # lax: a single value is an array of one
                        following.append(item)
                elif isinstance(item, dict) and step in item:
                    following.append(item[step])
        found = following
    return found
