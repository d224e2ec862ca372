"""validate_receipt on broken receipts: the same errors as the reporter alone, and where jsonschema finds them.

validate_receipt answers from a fast yes/no check and asks the error reporter only on a no (loyalty/api/swagger.py).
Here a corpus of receipts broken one way or several (wrong types, missing required properties, bad enums, bad
formats, undeclared properties, nested line, payment and customer errors) goes through it, and its errors must be
exactly those of the reporter without the check, at the places an independent validator (jsonschema, on the spec
translated to JSON Schema) finds problems. No database: these are pure functions.
"""

from __future__ import annotations

import ast
import copy
import json
import random
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft4Validator, FormatChecker

from loyalty.api.swagger import FORMAT_PROBLEMS, Validator, compile_reporter
from receipts import documents
from receipts.documents import spec, validate_receipt
from receipts.services.generator import GeneratorSpec, ReceiptGenerator
from tests.receipts.factories import line, receipt

EXAMPLE = json.loads((Path(__file__).parent / "data" / "dintero_example_receipt.json").read_text())


def _simple() -> dict[str, Any]:
    return receipt(
        receipt_id="R1",
        items=[line("a", line_id=1), line("b", line_id=2, extra_info=[{"key": "brand", "value": "Acme"}])],
        payments=[{"line_id": 1, "amount": 20000, "type_id": "card"}],
        entry_status="Concluded",
    )


def _customer() -> dict[str, Any]:
    return _simple() | {
        "customer": {
            "first_name": "Kari",
            "date_of_birth": "1990-09-20",
            "phone_number": "+4799999999",
            "addresses": [{"address_line": "Gate 1", "postal_place": "Oslo", "country": "NO"}],
            "marketing_consent": {"email": {"consent": True}},
        }
    }


BASES = {"simple": _simple, "customer": _customer, "example": lambda: copy.deepcopy(EXAMPLE)}
DELETE = object()

# (name, base, [(path, new value or DELETE)]): each receipt is broken in at least one way.
BROKEN: list[tuple[str, str, list[tuple[tuple[Any, ...], Any]]]] = [
    ("missing store", "simple", [(("store",), DELETE)]),
    ("missing receipt_id and purchase_at", "simple", [(("receipt_id",), DELETE), (("purchase_at",), DELETE)]),
    ("store is a string", "simple", [(("store",), "s1")]),
    ("store without id", "example", [(("store", "id"), DELETE)]),
    ("store id is a number", "simple", [(("store", "id"), 7)]),
    ("receipt_id is null", "simple", [(("receipt_id",), None)]),
    ("receipt_id is a number", "example", [(("receipt_id",), 714118)]),
    ("purchase_at without timezone", "simple", [(("purchase_at",), "2024-05-01T12:00:00")]),
    ("purchase_at on no such day", "simple", [(("purchase_at",), "2024-02-30T12:00:00Z")]),
    ("purchase_at as a date", "simple", [(("purchase_at",), "2024-05-01")]),
    ("purchase_at as a number", "simple", [(("purchase_at",), 1714564800)]),
    ("currency is a number", "simple", [(("currency",), 578)]),
    ("gross_amount as text", "simple", [(("gross_amount",), "100")]),
    ("gross_amount with decimals", "simple", [(("gross_amount",), 100.5)]),
    ("gross_amount is a boolean", "simple", [(("gross_amount",), True)]),
    ("net_amount is null", "example", [(("net_amount",), None)]),
    ("entry_status not in the enum", "simple", [(("entry_status",), "Deleted")]),
    ("entry_status in lower case", "simple", [(("entry_status",), "concluded")]),
    ("items is an object", "simple", [(("items",), {"id": "a"})]),
    ("a line is a string", "simple", [(("items", 1), "b")]),
    ("line quantity as text", "simple", [(("items", 1, "quantity"), "2")]),
    ("line_id is a boolean", "simple", [(("items", 0, "line_id"), True)]),
    ("voided is text", "example", [(("items", 0, "voided"), "yes")]),
    ("group without id", "simple", [(("items", 0, "groups", 0, "id"), DELETE)]),
    ("group id is a number", "simple", [(("items", 1, "groups", 0, "id"), 12)]),
    ("groups is a string", "simple", [(("items", 0, "groups"), "g-1")]),
    ("extra_info value is a number", "simple", [(("items", 1, "extra_info", 0, "value"), 3)]),
    ("extra_info entry is a list", "simple", [(("items", 1, "extra_info", 0), ["brand", "Acme"])]),
    ("dimension is a list", "example", [(("items", 0, "dimension"), ["red"])]),
    ("payments is an object", "simple", [(("payments",), {"amount": 1})]),
    ("payment amount as text", "simple", [(("payments", 0, "amount"), "200.00")]),
    ("payment type is a number", "simple", [(("payments", 0, "type_id"), 1)]),
    ("payment card_info is a list", "example", [(("payments", 0, "card_info"), [])]),
    ("customer is a list", "customer", [(("customer",), [])]),
    ("customer birth date on no such day", "customer", [(("customer", "date_of_birth"), "1990-13-01")]),
    ("customer e-mail is a number", "customer", [(("customer", "email"), 5)]),
    ("customer phone number in words", "customer", [(("customer", "phone_number"), "call me")]),
    ("address without address_line", "customer", [(("customer", "addresses", 0, "address_line"), DELETE)]),
    ("address is null", "customer", [(("customer", "addresses", 0), None)]),
    ("consent as text", "customer", [(("customer", "marketing_consent", "email", "consent"), "yes")]),
    ("entity id is not a UUID", "example", [(("id",), "3c90c3cc")]),
    ("entity created_at is not a date-time", "example", [(("created_at",), "now")]),
    ("store mcc as a number (the erratum is for requirements)", "example", [(("store", "mcc"), 5814)]),
    ("purchase_at with a lower case z", "simple", [(("purchase_at",), "2024-05-01T12:00:00z")]),
    ("discount without requirement and reward", "example", [(("discounts", 0), {"id": "x"})]),
    ("tax line amount as text", "example", [(("tax_lines", 0, "amount"), "10")]),
    ("undeclared property and a bad amount", "simple", [(("undeclared",), {"a": 1}), (("net_amount",), "1")]),
    (
        "many errors at once, in the reporter's order",
        "example",
        [
            (("store", "id"), DELETE),
            (("purchase_at",), "yesterday"),
            (("items", 0, "quantity"), "1"),
            (("payments", 0, "amount"), None),
            (("customer", "email"), 1),
            (("currency",), 578),
            (("id",), "not-a-uuid"),
        ],
    ),
]

# Edge cases that are fine: the check must let them through, and the reporter agree.
FINE: list[tuple[str, str, list[tuple[tuple[Any, ...], Any]]]] = [
    ("undeclared properties everywhere", "simple", [(("x",), 1), (("items", 0, "x"), [None]), (("store", "x"), {})]),
    ("nullable birth date", "customer", [(("customer", "date_of_birth"), None)]),
    ("purchase_at with an offset and fractions", "simple", [(("purchase_at",), "2024-05-01T12:00:00.25+02:00")]),
    ("purchase_at with a space", "simple", [(("purchase_at",), "2024-05-01 12:00:00Z")]),
    ("customer with nothing but undeclared properties", "simple", [(("customer",), {"nickname": "K"})]),
    ("quantity with decimals", "simple", [(("items", 0, "quantity"), 0.5)]),
    ("no items", "simple", [(("items",), [])]),
]


def _apply(base: str, changes: list[tuple[tuple[Any, ...], Any]]) -> dict[str, Any]:
    document = BASES[base]()
    for path, value in changes:
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    # as the API and the import see it
    return orjson.loads(orjson.dumps(document))


@cache
def _reporter() -> Validator:
    return compile_reporter({"$ref": "#/definitions/Receipt"}, spec()["definitions"])


def _reporter_errors(document: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """validate_receipt with the reporter alone behind it (no yes/no check in front)."""
    with monkeypatch.context() as patch:
        patch.setattr(documents, "_receipt_validator", _reporter)
        return validate_receipt(document)


# --- the independent check: the spec as JSON Schema (draft 4: like Swagger, 1.0 is not an integer), by jsonschema


def _json_schema(node: Any) -> Any:
    """Swagger 2.0 → JSON Schema draft 4: x-nullable, regular expressions in `format`, $ref next to other keys."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("x-nullable", "nullable", "example", "default")}
    if "properties" in node:
        out["properties"] = {k: _json_schema(v) for k, v in node["properties"].items()}
        out.setdefault("type", "object")  # Swagger's habit; the reporter reads it so too
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt.startswith("^"):
        del out["format"]
        out["allOf"] = [*out.get("allOf", []), {"pattern": fmt}]
    if "$ref" in out and len(out) > 1:  # draft 4 ignores the siblings of $ref
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    if node.get("x-nullable") or node.get("nullable"):
        assert "$ref" not in node and "allOf" not in node, "not in the spec; translate it when it is"
        if "type" in out:
            out["type"] = [*([out["type"]] if isinstance(out["type"], str) else out["type"]), "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _format_checker() -> FormatChecker:
    # The formats are the product's own definitions (a date-time needs a timezone, and so on), not jsonschema's.
    checker = FormatChecker(formats=())
    for name, problem in FORMAT_PROBLEMS.items():
        checker.checks(name)(lambda value, problem=problem: not isinstance(value, str) or problem(value) is None)
    return checker


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _schema_paths(document: Any) -> set[str]:
    """Where the reporter finds problems with the schema (validate_receipt adds a few rules of its own)."""
    errors: list[tuple[str, str]] = []
    _reporter()(document, errors)
    return {path for path, _ in errors}


@cache
def _jsonschema_validator() -> Draft4Validator:
    definitions = _json_schema(spec()["definitions"])
    return Draft4Validator(
        {"$ref": "#/definitions/Receipt", "definitions": definitions}, format_checker=_format_checker()
    )


def _jsonschema_paths(document: Any) -> set[str]:
    paths = set()
    for error in _jsonschema_validator().iter_errors(document):
        where = list(error.absolute_path)
        if error.validator == "required":  # jsonschema names the object; the reporter the missing property
            where.append(ast.literal_eval(error.message.removesuffix(" is a required property")))
        elif error.validator == "additionalProperties":
            paths.update(_path([*where, k]) for k in error.instance if k not in error.schema.get("properties", {}))
            continue
        paths.add(_path(where))
    return paths


@pytest.mark.parametrize(("base", "changes"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_receipts_get_the_reporters_errors_where_jsonschema_finds_them(base, changes, monkeypatch):
    document = _apply(base, changes)

    errors = validate_receipt(document)

    assert errors, "the corpus holds broken receipts only"
    assert errors == _reporter_errors(document, monkeypatch)
    assert _schema_paths(document) == _jsonschema_paths(document)


@pytest.mark.parametrize(("base", "changes"), [f[1:] for f in FINE], ids=[f[0] for f in FINE])
def test_edge_cases_that_are_fine(base, changes, monkeypatch):
    document = _apply(base, changes)
    assert validate_receipt(document) == [] == _reporter_errors(document, monkeypatch)
    assert _jsonschema_paths(document) == set()


def test_several_errors_come_in_the_reporters_order_with_its_messages():
    document = _apply("simple", [(("store", "id"), DELETE), (("purchase_at",), "2024-05-01T12:00:00")])
    document["items"][1]["quantity"] = "2"
    document["payments"][0]["amount"] = None
    document["currency"] = "nok"

    assert validate_receipt(document) == [
        ("store.id", "is required"),
        ("items[1].quantity", "must be of type number, not string"),
        ("purchase_at", "must be a date-time with a timezone, e.g. 2024-05-01T12:00:00Z"),
        ("payments[0].amount", "must be of type integer, not null"),
        ("currency", "must be a three-letter ISO 4217 code in capitals, e.g. NOK"),
    ]


ODD_VALUES: list[Any] = [None, True, 0, -1, 1.5, "", "x", "2024-05-01", [], [1], {}, {"a": 1}]


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [path] + [p for key, child in children for p in _places(child, (*path, key))]


def test_randomly_broken_generated_receipts(monkeypatch):
    rng = random.Random(5)
    generated = ReceiptGenerator(
        GeneratorSpec(receipts=300, customers=100, stores=10, days=30, end=datetime(2025, 1, 1, tzinfo=UTC))
    )
    outcomes = {True: 0, False: 0}
    for parsed in generated:
        document = copy.deepcopy(parsed.document)
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            *parents, key = rng.choice(_places(document)[1:])
            parent = document
            for step in parents:
                parent = parent[step]
            if isinstance(parent, dict) and rng.random() < 0.3:
                del parent[key]
            else:
                parent[key] = rng.choice(ODD_VALUES)
        document = orjson.loads(orjson.dumps(document))

        errors = validate_receipt(document)

        assert errors == _reporter_errors(document, monkeypatch)
        assert _schema_paths(document) == _jsonschema_paths(document)
        outcomes[not errors] += 1
    assert min(outcomes.values()) > 30, outcomes
