"""Compile Swagger 2.0 / OpenAPI schema objects into fast Python validators that report every problem.

jsonschema interprets the schema on every call; at 1,000 receipts per request that costs more than the database
work. Here a schema is turned into Python source once (like fastjsonschema does) and compiled, but unlike
fastjsonschema every problem is collected as `(path, message)`, which is what the APIs' 400 responses list.
Error paths are built only when a problem is found, so valid documents pay nothing for them.

compile_schema puts a second generated function in front of that reporter: a yes/no check (swagger_check.py) that
walks only the keys a document has and tests exact classes. Valid documents, nearly all of them, stop there (a
receipt in ~6 µs instead of ~13 µs); for any other the reporter runs, so the error list is always the reporter's.

Supported: local `$ref`, `allOf`, `type` (one or a list), `enum`, `required`, `properties`,
`additionalProperties`, `items`, `minItems`/`maxItems`, `minLength`/`maxLength`, `minimum`/`maximum`, `pattern`,
`maxProperties`, `x-nullable`/`nullable`, and the formats `date-time` (timezone required), `date`, `uuid`, plus the
specs' habit of putting a regular expression in `format` (`^...$`). Unknown properties are allowed: documents are
stored losslessly.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Protocol

from loyalty.api.schema_codegen import CodeGenerator, declared_types, string_patterns
from loyalty.api.swagger_check import compile_check

Errors = list[tuple[str, str]]


class Validator(Protocol):
    """validate(value, errors, path=""): appends (path, message) to `errors` for every problem found."""

    def __call__(self, value: Any, errors: Errors, path: str = "") -> None: ...


_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}


def type_name(value: Any) -> str:
    return "null" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)


def parse_datetime(value: Any) -> datetime | None:
    """An RFC 3339 date-time with a timezone, as the same instant in UTC, or None.

    In UTC because RFC 3339 allows offsets up to ±23:59 and PostgreSQL only ±15:59: "…+18:42" is a valid instant
    that PostgreSQL would refuse with its offset. An instant outside years 1 to 9999 once in UTC is None."""
    if not isinstance(value, str) or len(value) < 20 or value[10] not in "Tt ":
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def _date_time_problem(value: str) -> str | None:
    return None if parse_datetime(value) else "must be a date-time with a timezone, e.g. 2024-05-01T12:00:00Z"


def _date_problem(value: str) -> str | None:
    try:
        date.fromisoformat(value)
    except ValueError:
        return "must be a date, e.g. 2024-05-01"
    return None if len(value) == 10 else "must be a date, e.g. 2024-05-01"


def _uuid_problem(value: str) -> str | None:
    try:
        uuid.UUID(value)
    except ValueError:
        return "must be a UUID"
    return None


FORMAT_PROBLEMS: dict[str, Callable[[str], str | None]] = {
    "date-time": _date_time_problem,
    "date": _date_problem,
    "uuid": _uuid_problem,
}

_TYPE_TESTS = {
    "string": "isinstance({v}, str)",
    "integer": "(isinstance({v}, int) and not isinstance({v}, bool))",
    "number": "(isinstance({v}, (int, float)) and not isinstance({v}, bool))",
    "boolean": "isinstance({v}, bool)",
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "null": "({v} is None)",
}


class _Generator(CodeGenerator):
    """Emits one Python function per compiled root; `$ref`s are inlined unless recursive."""

    def error(self, indent: int, path: str, message_expr: str) -> None:
        self.emit(indent, f"errors.append(({path}, {message_expr}))")

    # path expressions are only evaluated inside error branches
    @staticmethod
    def child_path(path: str, key: str) -> str:
        return f"(({path}) + {'.' + key!r} if ({path}) else {key!r})"

    @staticmethod
    def item_path(path: str, index_var: str) -> str:
        return f"(({path}) + '[' + str({index_var}) + ']')"

    def node(self, schema: dict[str, Any], var: str, path: str, indent: int) -> None:
        if not isinstance(schema, dict):
            return
        indent = self.open_node(
            schema,
            var,
            indent,
            lambda ref, at: self.ref(ref, var, path, at),
            lambda part, at: self.node(part, var, path, at),
        )

        types = declared_types(schema)
        if types:
            test = " or ".join(_TYPE_TESTS[t].format(v=var) for t in types)
            self.emit(indent, f"if not ({test}):")
            self.error(indent + 1, path, f"'must be of type {' or '.join(types)}, not ' + _type_name({var})")
            self.emit(indent, "else:")
            indent += 1
            self.emit(indent, "pass")

        if "enum" in schema:
            allowed = schema["enum"]
            name = self.const(allowed, "E")
            shown = ", ".join(str(a) for a in allowed)
            self.emit(
                indent, f"if {var} not in {name} or isinstance({var}, bool) and not any(a is {var} for a in {name}):"
            )
            self.error(indent + 1, path, repr(f"must be one of: {shown}"))

        self.strings(schema, var, path, indent)
        self.numbers(schema, var, path, indent)
        self.objects(schema, var, path, indent)
        self.arrays(schema, var, path, indent)

    def call_ref(self, function: str, var: str, path: str, indent: int) -> None:
        # Recursive: call a separate function (its path is computed eagerly, recursion is rare).
        self.emit(indent, f"{function}({var}, {path}, errors)")

    def strings(self, schema: dict[str, Any], var: str, path: str, indent: int) -> None:
        checks: list[tuple[str, str]] = []
        min_length, max_length = schema.get("minLength"), schema.get("maxLength")
        if min_length is not None:
            message = "must not be empty" if min_length == 1 else f"must be at least {min_length} characters"
            checks.append((f"len({var}) < {min_length}", repr(message)))
        if max_length is not None:
            checks.append((f"len({var}) > {max_length}", repr(f"must be at most {max_length} characters")))
        fmt = schema.get("format")
        for pattern in string_patterns(schema):
            regex = self.const(re.compile(pattern), "R")
            checks.append((f"not {regex}.search({var})", repr(f"must match {pattern}")))
        if not checks and fmt not in FORMAT_PROBLEMS:
            return
        self.emit(indent, f"if isinstance({var}, str):")
        for condition, message in checks:
            self.emit(indent + 1, f"if {condition}:")
            self.error(indent + 2, path, message)
        if fmt in FORMAT_PROBLEMS:
            problem = self.name("p")
            self.emit(indent + 1, f"{problem} = {FORMAT_PROBLEMS[fmt].__name__}({var})")
            self.emit(indent + 1, f"if {problem}:")
            self.error(indent + 2, path, problem)
        self.emit(indent + 1, "pass")

    def numbers(self, schema: dict[str, Any], var: str, path: str, indent: int) -> None:
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        # The specs sometimes put minimum/maximum on strings (meaning a length); only numbers are checked.
        if (minimum is None and maximum is None) or schema.get("type") == "string":
            return
        self.emit(indent, f"if isinstance({var}, (int, float)) and not isinstance({var}, bool):")
        if minimum is not None:
            self.emit(indent + 1, f"if {var} < {minimum!r}:")
            self.error(indent + 2, path, repr(f"must be at least {minimum}"))
        if maximum is not None:
            self.emit(indent + 1, f"if {var} > {maximum!r}:")
            self.error(indent + 2, path, repr(f"must be at most {maximum}"))
        self.emit(indent + 1, "pass")

    def objects(self, schema: dict[str, Any], var: str, path: str, indent: int) -> None:
        required = schema.get("required") or []
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        max_properties = schema.get("maxProperties")
        if not (required or properties or isinstance(additional, dict) or additional is False or max_properties):
            return
        self.emit(indent, f"if isinstance({var}, dict):")
        inner = indent + 1
        for name in required:
            self.emit(inner, f"if {name!r} not in {var}:")
            self.error(inner + 1, self.child_path(path, name), "'is required'")
        for name, sub in properties.items():
            child = self.name("v")
            self.emit(inner, f"{child} = {var}.get({name!r}, _MISSING)")
            self.emit(inner, f"if {child} is not _MISSING:")
            self.emit(inner + 1, "pass")
            self.node(sub, child, self.child_path(path, name), inner + 1)
        if isinstance(additional, dict) or additional is False:
            known = self.const(frozenset(properties), "K")
            key, value = self.name("k"), self.name("v")
            self.emit(inner, f"for {key}, {value} in {var}.items():")
            self.emit(inner + 1, f"if {key} in {known}:")
            self.emit(inner + 2, "continue")
            key_path = f"(({path}) + '.' + str({key}) if ({path}) else str({key}))"
            if additional is False:
                self.error(inner + 1, key_path, "'is not an allowed property'")
            else:
                self.node(additional, value, key_path, inner + 1)
        if max_properties is not None:
            self.emit(inner, f"if len({var}) > {max_properties}:")
            self.error(inner + 1, path, repr(f"must have at most {max_properties} properties"))
        self.emit(inner, "pass")

    def arrays(self, schema: dict[str, Any], var: str, path: str, indent: int) -> None:
        items = schema.get("items")
        min_items, max_items = schema.get("minItems"), schema.get("maxItems")
        if not isinstance(items, dict) and min_items is None and max_items is None:
            return
        self.emit(indent, f"if isinstance({var}, list):")
        inner = indent + 1
        if min_items is not None:
            self.emit(inner, f"if len({var}) < {min_items}:")
            self.error(inner + 1, path, repr(f"must have at least {min_items} items"))
        if max_items is not None:
            self.emit(inner, f"if len({var}) > {max_items}:")
            self.error(inner + 1, path, repr(f"must have at most {max_items} items"))
        if isinstance(items, dict):
            index, item = self.name("i"), self.name("v")
            self.emit(inner, f"for {index}, {item} in enumerate({var}):")
            self.emit(inner + 1, "pass")
            self.node(items, item, self.item_path(path, index), inner + 1)
        self.emit(inner, "pass")

    def function(self, name: str, schema: Any) -> None:
        self.emit(0, f"def {name}(value, path, errors):")
        self.emit(1, "pass")
        self.node(schema, "value", "path", 1)
        self.emit(0, "")


def compile_schema(
    schema: dict[str, Any], definitions: dict[str, Any], ref_prefix: str = "#/definitions/"
) -> Validator:
    """→ validate(value, errors) appending (path, message) for every problem; paths look like `items[2].id`."""
    report = compile_reporter(schema, definitions, ref_prefix)
    # Valid documents (nearly all) are recognised about twice as fast by a check that only answers yes or no
    # (swagger_check.py); the reporter runs for the rest, so the error list is the reporter's exactly.
    check = compile_check(schema, definitions, FORMAT_PROBLEMS, ref_prefix)

    def validate(value: Any, errors: Errors, path: str = "") -> None:
        if not check(value):
            report(value, errors, path)

    return validate


def compile_reporter(
    schema: dict[str, Any], definitions: dict[str, Any], ref_prefix: str = "#/definitions/"
) -> Validator:
    """compile_schema without the yes/no check in front: the same errors, slower on valid documents."""
    generator = _Generator(definitions, ref_prefix)
    generator.generate("_root", schema)
    namespace = generator.load(
        "\n".join(generator.lines),
        "<swagger-validator>",
        {
            "_MISSING": _MISSING,
            "_type_name": type_name,
            **{problem.__name__: problem for problem in FORMAT_PROBLEMS.values()},
        },
    )
    root = namespace["_root"]

    def report(value: Any, errors: Errors, path: str = "") -> None:
        root(value, path, errors)

    return report


class _Missing:
    __slots__ = ()


_MISSING = _Missing()


def allow_numeric_mcc(definitions: dict[str, Any]) -> None:
    """Dintero's erratum, shared by the Receipts and Discounts specs (which define the same StoreRequirement):
    their own example receipts send store MCCs as numbers where the schema says string. Changes `definitions`."""
    store = definitions["StoreRequirement"]["properties"]
    store["mcc"]["items"]["type"] = ["string", "integer"]
    for bound in ("start", "end"):
        schema = store["mcc_ranges"]["items"]["properties"][bound]
        schema["type"] = ["string", "integer"]
        # minimum/maximum 4 there mean "four digits", which the pattern already says
        schema.pop("minimum", None)
        schema.pop("maximum", None)
