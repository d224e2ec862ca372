"""A fast yes/no check generated from the same schema as the error-reporting validator in `swagger.py`.

Nearly every document the APIs and the import see is valid, and for those the reporter's work is overhead: it
looks up every property the schema declares (a receipt line declares 35, a posted one has ~10), tests each type
twice and keeps going after a problem. The check generated here answers only "is this certainly valid?":

- an object declaring many properties is checked by walking the keys it has, through one table from key to the
  class the value must have (`str`, `int`, ... tested inline, no call) or to a function checking anything more;
  one declaring a few is checked by looking each of them up, inline;
- it tests the exact classes JSON decoding produces (`v.__class__ is str`), and stops at the first problem.

It must never say yes where the reporter would find a problem. Saying no too often only costs speed: a no sends
the document to the reporter, which makes the error list (paths, messages, order) exactly as without the check.
So anything unusual (a `str` subclass, a `bool` where an integer is declared) is a no. Both generators read the
keywords through schema_codegen.py; tests/core/test_swagger_check.py pins the two against each other over every
definition of both specs, and tests/receipts/test_validation.py over broken receipts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import FunctionType
from typing import Any

from loyalty.api.schema_codegen import CodeGenerator, declared_types, string_patterns

Check = Callable[[Any], bool]

# exact classes per declared type; `integer` as `int` also refuses bool, as the reporter does
_TYPE_CLASSES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}
_PLAIN = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}
# Any of these (present at all) makes a property more than a class test, so it gets more than a table entry.
_CONSTRAINTS = frozenset(
    {
        *("$ref", "allOf", "x-nullable", "nullable", "enum"),
        *("minLength", "maxLength", "pattern", "format", "minimum", "maximum"),
        *("required", "properties", "additionalProperties", "maxProperties", "items", "minItems", "maxItems"),
    }
)
# Objects declaring at most this many properties are checked by looking each up; more, by walking the keys present
# (a receipt declares 42, a posted one has ~11; a line 35 and ~10).
_LOOKUP_AT_MOST = 8


def _plain_class(schema: Any) -> type | None:
    """The class a schema with nothing but a single `type` asks for; None if it asks for more (or anything)."""
    if not isinstance(schema, dict) or schema.keys() & _CONSTRAINTS:
        return None
    declared = schema.get("type")
    return _PLAIN.get(declared) if isinstance(declared, str) else None


def _trivial(schema: Any) -> bool:
    """True for a schema the reporter finds nothing wrong with, whatever the value (no type it knows, no keyword)."""
    return not isinstance(schema, dict) or not (schema.keys() & _CONSTRAINTS or declared_types(schema))


def _always(value: Any) -> bool:
    return True


class _Missing:
    __slots__ = ()


_MISSING = _Missing()


def _class_test(var: str, cls: type) -> str:
    return f"{var} is None" if cls is type(None) else f"{var}.__class__ is {cls.__name__}"


def _limits(expression: str, low: Any, high: Any) -> list[str]:
    """Conditions for low <= expression <= high, either bound optional (NaN fails both: the reporter decides)."""
    return [f"{expression} {op} {bound!r}" for op, bound in ((">=", low), ("<=", high)) if bound is not None]


class _CheckGenerator(CodeGenerator):
    """Emits `def name(v): ... return True` functions, and the key tables they use after them."""

    def __init__(self, definitions: dict[str, Any], ref_prefix: str, format_problems: dict[str, Callable]):
        super().__init__(definitions, ref_prefix)
        self.format_problems = format_problems
        self.functions: list[str] = []  # finished functions; self.lines is the one being written
        self.tables: list[str] = []  # key -> class or function, emitted after the functions they name
        self.constants.update(_always=_always, _MISSING=_MISSING, _FunctionType=FunctionType)

    def source(self) -> str:
        return "\n".join(self.functions + self.tables)

    def function(self, name: str, schema: Any) -> None:
        """Write `def name(v)` checking one value against `schema` (other functions may be written meanwhile)."""
        outer, self.lines = self.lines, [f"def {name}(v):"]
        self.node(schema, "v", 1)
        self.emit(1, "return True")
        self.functions.extend([*self.lines, ""])
        self.lines = outer

    def new_function(self, schema: Any) -> str:
        name = self.name("f")
        self.function(name, schema)
        return name

    def call_ref(self, function: str, var: str, indent: int) -> None:
        self.fail_unless(indent, f"{function}({var})")

    def fail_unless(self, indent: int, condition: str) -> None:
        self.emit(indent, f"if not ({condition}):")
        self.emit(indent + 1, "return False")

    def node(self, schema: Any, var: str, indent: int) -> None:
        if not isinstance(schema, dict):
            return
        indent = self.open_node(
            schema, var, indent, lambda ref, at: self.ref(ref, var, at), lambda part, at: self.node(part, var, at)
        )

        classes = {c for t in declared_types(schema) for c in _TYPE_CLASSES[t]}
        if classes:
            self.fail_unless(indent, " or ".join(_class_test(var, c) for c in sorted(classes, key=str)))
        # What the value is known to be from here on; None: anything, so the reporter's guards apply.
        known = classes or None

        if "enum" in schema:
            self.enum(schema["enum"], var, indent, known)
        self.strings(schema, var, indent, known)
        self.numbers(schema, var, indent, known)
        self.objects(schema, var, indent, known)
        self.arrays(schema, var, indent, known)

    def guard(self, indent: int, known: set[type] | None, wanted: set[type], test: str) -> int | None:
        """Where the reporter has `if isinstance(...)`: the indent to go on at, or None when it is surely false."""
        if known is not None and known <= wanted:
            return indent
        if known is not None and not known & wanted:
            return None
        self.emit(indent, f"if {test}:")
        self.emit(indent + 1, "pass")
        return indent + 1

    def enum(self, allowed: list[Any], var: str, indent: int, known: set[type] | None) -> None:
        if known == {str} and all(isinstance(a, str) for a in allowed):
            # for a str among str options, list membership (==) and set membership agree
            self.fail_unless(indent, f"{var} in {self.const(frozenset(allowed), 'E')}")
            return
        name = self.const(allowed, "E")
        self.fail_unless(
            indent, f"not ({var} not in {name} or isinstance({var}, bool) and not any(a is {var} for a in {name}))"
        )

    def strings(self, schema: dict[str, Any], var: str, indent: int, known: set[type] | None) -> None:
        conditions = _limits(f"len({var})", schema.get("minLength"), schema.get("maxLength"))
        conditions += [f"{self.const(re.compile(p), 'R')}.search({var})" for p in string_patterns(schema)]
        fmt = schema.get("format")
        if fmt in self.format_problems:
            conditions.append(f"not {self.const(self.format_problems[fmt], 'P')}({var})")
        self.guarded(indent, known, {str}, f"isinstance({var}, str)", conditions)

    def numbers(self, schema: dict[str, Any], var: str, indent: int, known: set[type] | None) -> None:
        if schema.get("type") == "string":
            return  # the specs put minimum/maximum on strings now and then; the reporter ignores them there
        conditions = _limits(var, schema.get("minimum"), schema.get("maximum"))
        test = f"isinstance({var}, (int, float)) and not isinstance({var}, bool)"
        self.guarded(indent, known, {int, float}, test, conditions)

    def guarded(
        self, indent: int, known: set[type] | None, wanted: set[type], test: str, conditions: list[str]
    ) -> None:
        if conditions:
            inner = self.guard(indent, known, wanted, test)
            if inner is not None:
                self.fail_unless(inner, " and ".join(conditions))

    def objects(self, schema: dict[str, Any], var: str, indent: int, known: set[type] | None) -> None:
        required = schema.get("required") or []
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        closed = isinstance(additional, dict) or additional is False
        max_properties = schema.get("maxProperties")
        if not (required or properties or closed or max_properties):
            return
        inner = self.guard(indent, known, {dict}, f"isinstance({var}, dict)")
        if inner is None:
            return
        if required:
            self.fail_unless(inner, " and ".join(f"{name!r} in {var}" for name in required))
        self.properties(properties, additional if closed else None, var, inner)
        if max_properties is not None:
            self.fail_unless(inner, f"len({var}) <= {max_properties}")

    def properties(self, properties: dict[str, Any], additional: Any, var: str, indent: int) -> None:
        """`additional`: the schema for undeclared keys (False: none allowed), or None when any key may come."""
        if additional is None and len(properties) <= _LOOKUP_AT_MOST:
            # a few declared properties: look each up (inline, no calls) rather than walk the keys present
            for key, sub in properties.items():
                if _trivial(sub):
                    continue
                value = self.name("x")
                self.emit(indent, f"{value} = {var}.get({key!r}, _MISSING)")
                self.inline(sub, value, indent, may_be_missing=True)
            return
        # Many declared properties (a receipt, a line): one pass over the keys present with one table from key to
        # the class it must have, or to a function checking anything more.
        entries = self.property_entries(properties, closed=additional is not None)
        if not entries and additional is None:
            return
        table, key, value, expected = self.name("T"), self.name("k"), self.name("x"), self.name("c")
        self.tables.append(f"{table} = {{{', '.join(entries)}}}")
        self.emit(indent, f"for {key}, {value} in {var}.items():")
        self.emit(indent + 1, f"{expected} = {table}.get({key})")
        self.emit(indent + 1, f"if {expected} is None:")
        self.emit(indent + 2, "pass")
        if additional is False:
            self.emit(indent + 2, "return False")
        elif additional is not None:
            self.node(additional, value, indent + 2)
        # a value's class is never a function, so a function entry is always called
        condition = f"{value}.__class__ is {expected} or {expected}.__class__ is _FunctionType and {expected}({value})"
        self.emit(indent + 1, f"elif not ({condition}):")
        self.emit(indent + 2, "return False")

    def property_entries(self, properties: dict[str, Any], *, closed: bool) -> list[str]:
        """The table's `key: class-or-function` entries; with `closed`, trivial properties too (declared, so not an
        additional property)."""
        entries: list[str] = []
        for key, sub in properties.items():
            cls = _plain_class(sub)
            if cls is not None:
                entries.append(f"{key!r}: {cls.__name__}")
            elif not _trivial(sub):
                entries.append(f"{key!r}: {self.new_function(sub)}")
            elif closed:
                entries.append(f"{key!r}: _always")
        return entries

    def arrays(self, schema: dict[str, Any], var: str, indent: int, known: set[type] | None) -> None:
        items = schema.get("items")
        conditions = _limits(f"len({var})", schema.get("minItems"), schema.get("maxItems"))
        if not conditions and _trivial(items):
            return
        inner = self.guard(indent, known, {list}, f"isinstance({var}, list)")
        if inner is None:
            return
        if conditions:
            self.fail_unless(inner, " and ".join(conditions))
        if _trivial(items):
            return
        item = self.name("x")
        self.emit(inner, f"for {item} in {var}:")
        self.inline(items, item, inner + 1, may_be_missing=False)

    def inline(self, schema: Any, var: str, indent: int, *, may_be_missing: bool) -> None:
        """Check a member here: only its class when that is all the schema asks, else the whole node."""
        cls = _plain_class(schema)
        if cls is not None:
            test = _class_test(var, cls)
            self.fail_unless(indent, f"{var} is _MISSING or {test}" if may_be_missing else test)
            return
        if may_be_missing:
            self.emit(indent, f"if {var} is not _MISSING:")
            indent += 1
        self.emit(indent, "pass")
        self.node(schema, var, indent)


def compile_check(
    schema: dict[str, Any],
    definitions: dict[str, Any],
    format_problems: dict[str, Callable[[str], str | None]],
    ref_prefix: str = "#/definitions/",
) -> Check:
    """→ check(value): True only if the reporter compiled from the same schema would find no problem.

    `format_problems` are the reporter's own format functions (message or None), so formats agree by construction.
    """
    generator = _CheckGenerator(definitions, ref_prefix, format_problems)
    generator.generate("_check", schema)
    return generator.load(generator.source(), "<swagger-check>", {})["_check"]
