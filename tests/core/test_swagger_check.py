"""compile_schema answers from a fast yes/no check and runs the error reporter only on a no (swagger_check.py).

That is right only if the check says yes exactly when the reporter finds nothing: a yes too many would let an
invalid document in, a no too many would only cost speed. Both are pinned here over every definition and every
body schema of both Dintero specs, with random documents built from the schemas themselves (mostly valid, with
wrong types, missing required properties, values out of bounds, bad formats and nulls mixed in), and over a few
hand-written schemas for the keywords the specs use rarely.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from discounts.documents import spec as discounts_spec
from loyalty.api.swagger import FORMAT_PROBLEMS, compile_reporter, compile_schema
from loyalty.api.swagger_check import compile_check
from receipts.documents import spec as receipts_spec

EXAMPLES_PER_SCHEMA = 30  # per rate of odd choices
REF = "#/definitions/"

# Values of the wrong kind (or at the edges) that any node may get instead of a conforming one.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.5,
    2**70,
    "",
    " ",
    "x",
    "2024-05-01T12:00:00Z",
    [],
    [1],
    {},
    {"unexpected": 1},
]
# (conforming, not) per format
DATE_TIMES = (
    ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123+02:00", "2024-05-01 12:00:00+00:00", "2024-05-01t12:00:00z"],
    ["2024-05-01T12:00:00", "2024-02-30T12:00:00Z", "2024-05-01", "yesterday"],  # no timezone, no such day, ...
)
DATES = (["2024-05-01", "1990-09-20"], ["2024-02-30", "2024-5-1", "20240501", "2024-05-01T00:00:00Z"])
UUIDS = (["0b9d3c26-2e5f-4a8f-9d53-9f0c4f6b1a11", "0B9D3C262E5F4A8F9D539F0C4F6B1A11"], ["not-a-uuid", "{0b9d3c26}"])
FORMATS = {"date-time": DATE_TIMES, "date": DATES, "uuid": UUIDS}
# Strings for patterns: the specs' patterns are phone numbers, clock times and "*"-prefixed ids.
TEXTS = ["+4799999999", "4712345678", "12:30", "7:05", "25:00", "*.example.com", "*", "abc", "NOK", "nok", "a b"]


class Instances:
    """Random documents for a schema: each choice conforms, except with probability `odd` (then anything goes)."""

    def __init__(self, definitions: dict[str, Any], rng: random.Random, odd: float):
        self.definitions = definitions
        self.rng = rng
        self.odd = odd

    def wrong(self) -> bool:
        return self.rng.random() < self.odd

    def value(self, schema: Any, depth: int = 0) -> Any:
        rng = self.rng
        if not isinstance(schema, dict) or depth > 8 or self.wrong():
            return rng.choice(ODD_VALUES)
        if (schema.get("x-nullable") or schema.get("nullable")) and rng.random() < 0.15:
            return None
        schema = self.merged(schema)
        if "enum" in schema and not self.wrong():
            return rng.choice(schema["enum"])
        declared = schema.get("type") or ("object" if "properties" in schema else None)
        types = [declared] if isinstance(declared, str) else list(declared or ["string", "integer", "object"])
        kind = rng.choice(types)
        if kind == "string":
            return self.string(schema)
        if kind in ("integer", "number"):
            return self.number(schema, kind)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "array":
            return self.array(schema, depth)
        if kind == "object":
            return self.object(schema, depth)
        return None

    def number(self, schema: dict[str, Any], kind: str) -> int | float:
        low, high = schema.get("minimum"), schema.get("maximum")
        bounds = [b for b in (low, high) if isinstance(b, int | float)]
        if self.wrong():
            return self.rng.choice([-3, 2**70, *(b - 1 for b in bounds), *(b + 1 for b in bounds)])
        inside = [n for n in (0, 1, 2500, *bounds) if (low is None or n >= low) and (high is None or n <= high)]
        number = self.rng.choice(inside or bounds)
        return number + 0.25 if kind == "number" and self.rng.random() < 0.3 and number != high else number

    def merged(self, schema: dict[str, Any]) -> dict[str, Any]:
        """$ref and allOf folded into one schema (enough to build instances; the validators see the original)."""
        parts = [schema]
        if "$ref" in schema:
            parts.append(self.merged(self.definitions[schema["$ref"][len(REF) :]]))
        parts += [self.merged(part) for part in schema.get("allOf", ()) if isinstance(part, dict)]
        out: dict[str, Any] = {}
        for part in parts:
            for key, value in part.items():
                if key == "properties":
                    out["properties"] = {**out.get("properties", {}), **value}
                elif key == "required":
                    out["required"] = [*out.get("required", []), *value]
                elif key not in ("$ref", "allOf"):
                    out.setdefault(key, value)
        return out

    def string(self, schema: dict[str, Any]) -> str:
        rng, fmt = self.rng, schema.get("format")
        if fmt in FORMATS:
            good, bad = FORMATS[fmt]
            return rng.choice(bad if self.wrong() else good)
        patterns = [
            p for p in (schema.get("pattern"), fmt) if isinstance(p, str) and (p is not fmt or p.startswith("^"))
        ]
        if patterns:
            matching = [t for t in TEXTS if all(re.search(p, t) for p in patterns)]
            return rng.choice(TEXTS if self.wrong() or not matching else matching)
        low, high = schema.get("minLength", 0), schema.get("maxLength", 12)
        return "s" * (rng.choice([max(0, low - 1), high + 1]) if self.wrong() else rng.randint(low, max(low, high)))

    def array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        low, high = schema.get("minItems", 0), schema.get("maxItems", 3)
        if self.wrong():
            size = self.rng.choice([max(0, low - 1), high + 1])
        else:
            size = self.rng.randint(low, max(low, min(high, low + 3)))
        return [self.value(schema.get("items"), depth + 1) for _ in range(size)]

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        rng, out = self.rng, {}
        required = set(schema.get("required") or ())
        for key, sub in (schema.get("properties") or {}).items():
            if (key in required and not self.wrong()) or rng.random() < 0.4:
                out[key] = self.value(sub, depth + 1)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for n in range(rng.randrange(3)):
                out[f"extra{n}"] = self.value(additional, depth + 1)
        if (additional is None or additional is True or self.wrong()) and rng.random() < 0.1:
            out["undeclared"] = rng.choice(ODD_VALUES)
        if isinstance(schema.get("maxProperties"), int):
            limit = schema["maxProperties"]
            while len(out) > limit and not self.wrong():
                out.pop(next(iter(out)))
            if self.wrong():
                out.update({f"more{n}": "x" for n in range(limit + 1)})
        return out


def _schemas() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, schema, definitions): every definition and every operation's body schema of both specs."""
    out = []
    for family, spec in (("receipts", receipts_spec()), ("discounts", discounts_spec())):
        definitions = spec["definitions"]
        out += [(f"{family}:{name}", {"$ref": REF + name}, definitions) for name in definitions]
        for item in spec["paths"].values():
            for operation in item.values():
                for parameter in operation.get("parameters", ()) if isinstance(operation, dict) else ():
                    if parameter.get("in") == "body":
                        out.append((f"{family}:{operation['operationId']}", parameter["schema"], definitions))
    return out


def _agree(schema: dict[str, Any], definitions: dict[str, Any], documents: list[Any]) -> tuple[int, int]:
    """Assert the check, the reporter and compile_schema agree on every document; → (valid, invalid) counts."""
    check = compile_check(schema, definitions, FORMAT_PROBLEMS)
    report = compile_reporter(schema, definitions)
    validate = compile_schema(schema, definitions)
    valid = 0
    for document in documents:
        errors: list[tuple[str, str]] = []
        report(document, errors)
        assert check(document) is (not errors), (document, errors)
        through: list[tuple[str, str]] = []
        validate(document, through)
        assert through == errors
        valid += not errors
    return valid, len(documents) - valid


SCHEMAS = _schemas()


@pytest.mark.parametrize(("schema", "definitions"), [s[1:] for s in SCHEMAS], ids=[s[0] for s in SCHEMAS])
def test_check_agrees_with_the_reporter_on_random_documents(schema, definitions):
    rng = random.Random(repr(schema))  # the same documents on every run
    documents = [
        Instances(definitions, rng, odd).value(schema) for odd in (0, 0.01, 0.05) for _ in range(EXAMPLES_PER_SCHEMA)
    ]
    _agree(schema, definitions, documents)


def test_random_documents_are_valid_often_enough_to_exercise_the_yes_side():
    valid = invalid = 0
    for name, schema, definitions in SCHEMAS:
        if name.endswith((":Receipt", ":Discount", ":DiscountRefs")):
            rng = random.Random(name)
            documents = [Instances(definitions, rng, odd).value(schema) for odd in (0, 0.01) for _ in range(200)]
            yes, no = _agree(schema, definitions, documents)
            valid, invalid = valid + yes, invalid + no
    assert valid > 100 and invalid > 100, (valid, invalid)


# Keywords and shapes the specs have once or not at all.
HANDWRITTEN: list[tuple[str, dict[str, Any], list[Any]]] = [
    (
        "closed object",
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {}}, "additionalProperties": False},
        [{}, {"a": "x"}, {"b": [1]}, {"c": 1}, {"a": 1}, {"a": "x", "b": None, "c": None}],
    ),
    (
        "additional properties with a schema",
        {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        [{}, {"a": 1}, {"a": -1}, {"a": "1"}, {"a": True}, []],
    ),
    (
        "max properties",
        {"type": "object", "maxProperties": 2},
        [{}, {"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 3}, "x"],
    ),
    (
        "no type, only constraints",
        {"minLength": 2, "minimum": 3, "required": ["a"], "minItems": 1, "enum": ["ab", 5, [1], {"a": 1}]},
        ["ab", "a", 5, 2, 5.0, True, [1], [], {"a": 1}, {}, None],
    ),
    (
        "enum of numbers and booleans",
        {"type": ["integer", "boolean"], "enum": [1, False]},
        [1, 0, True, False, 1.0, None],
    ),
    (
        "string enum",
        {"type": "string", "enum": ["a", "b"]},
        ["a", "c", 1, None],
    ),
    (
        "nullable reference",
        {"x-nullable": True, "$ref": REF + "Word"},
        [None, "ab", "", 3],
    ),
    (
        "type list with null",
        {"type": ["string", "null"], "maxLength": 1},
        [None, "", "a", "ab", 0],
    ),
    (
        "array of plain classes",
        {"type": "array", "items": {"type": "boolean"}, "maxItems": 2},
        [[], [True], [1], [True, False, True], {}],
    ),
    (
        "recursive definition",
        {"$ref": REF + "Tree"},
        [{}, {"children": [{}, {"children": [{"name": "x"}]}]}, {"children": [{"name": 1}]}, {"children": [1]}],
    ),
    (
        "unknown type and keywords are ignored",
        {"type": "object", "properties": {"f": {"type": "file", "uniqueItems": True}, "g": {"format": "email"}}},
        [{"f": 1, "g": 2}, {"f": [1, 1]}, []],
    ),
    (
        "numbers at the bounds",
        {"type": "number", "minimum": 0.5, "maximum": 10},
        [0.5, 0.4, 10, 10.5, 2**70, -(2**70), True, "5"],
    ),
    (
        "many properties, looked up by walking the keys present",
        {"type": "object", "properties": {f"p{n}": {"type": "integer"} for n in range(12)} | {"d": {"format": "date"}}},
        [{"p1": 1, "p11": 2, "q": "x"}, {"p3": "1"}, {"d": "2024-05-01"}, {"d": "2024-13-01"}, {"d": 5}],
    ),
]
HANDWRITTEN_DEFINITIONS = {
    "Word": {"type": "string", "minLength": 1},
    "Tree": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "children": {"items": {"$ref": REF + "Tree"}}},
    },
}


@pytest.mark.parametrize(("schema", "documents"), [h[1:] for h in HANDWRITTEN], ids=[h[0] for h in HANDWRITTEN])
def test_check_agrees_with_the_reporter_on_rare_keywords(schema, documents):
    _agree(schema, HANDWRITTEN_DEFINITIONS, documents)


def test_subclasses_of_the_json_classes_are_left_to_the_reporter():
    # The check trusts only the exact classes JSON decoding makes: it says no, and the reporter (isinstance) decides.
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}
    check = compile_check(schema, {}, FORMAT_PROBLEMS)
    validate = compile_schema(schema, {})
    for document in (
        {"n": type("Int", (int,), {})(3)},
        {"s": type("Str", (str,), {})("x")},
        type("Dict", (dict,), {})(n=1),
    ):
        errors: list[tuple[str, str]] = []
        validate(document, errors)
        assert check(document) is False and errors == []
