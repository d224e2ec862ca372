"""What the two generators of Python source from Swagger schemas share.

swagger.py generates the error reporter, swagger_check.py the yes/no check that runs in front of it. The check must
never accept what the reporter refuses, so both read the keywords through the helpers here and walk `$ref`s the
same way (inlined, except a definition that refers to itself, which becomes a function of its own).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

TYPES = ("string", "integer", "number", "boolean", "object", "array", "null")


def is_nullable(schema: dict[str, Any]) -> bool:
    return bool(schema.get("x-nullable") or schema.get("nullable"))


def declared_types(schema: dict[str, Any]) -> list[str]:
    """The types a schema asks for, in its order; unknown ones are ignored, and `properties` alone means object."""
    declared = schema.get("type")
    if declared is None and "properties" in schema:
        declared = "object"
    types = [declared] if isinstance(declared, str) else list(declared or [])
    return [t for t in types if t in TYPES]


def string_patterns(schema: dict[str, Any]) -> list[str]:
    """`pattern`, and the specs' habit of putting a regular expression in `format` (`^...$`)."""
    patterns = [schema["pattern"]] if "pattern" in schema else []
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt.startswith("^"):
        patterns.append(fmt)
    return patterns


class CodeGenerator:
    """Collects one generated module: its lines, the constants they name, and the functions of recursive `$ref`s.

    Subclasses say how a schema node becomes code (`node(schema, *where)`), how a function is written
    (`function(name, schema)`) and how a recursive definition's function is called (`call_ref(name, *where)`);
    `where` is whatever they track (the variable, the path expression, the indent).
    """

    def __init__(self, definitions: dict[str, Any], ref_prefix: str):
        self.definitions = definitions
        self.ref_prefix = ref_prefix
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.counter = 0
        self.ref_stack: list[str] = []
        self.ref_functions: dict[str, str] = {}
        self.pending_refs: list[str] = []

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: Any, prefix: str = "C") -> str:
        name = self.name(prefix)
        self.constants[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def node(self, schema: Any, *where: Any) -> None:
        raise NotImplementedError

    def function(self, name: str, schema: Any) -> None:
        raise NotImplementedError

    def call_ref(self, function: str, *where: Any) -> None:
        raise NotImplementedError

    def open_node(
        self,
        schema: dict[str, Any],
        var: str,
        indent: int,
        follow: Callable[[str, int], None],
        visit: Callable[[Any, int], None],
    ) -> int:
        """What every node starts with: a nullable one lets None through (its code goes under `if not None`), then
        its `$ref` (`follow(ref, indent)`) and `allOf` parts (`visit(part, indent)`) apply to the same value.
        → the indent for the node's own keywords."""
        if is_nullable(schema):
            self.emit(indent, f"if {var} is not None:")
            indent += 1
            self.emit(indent, "pass")
        if "$ref" in schema:
            follow(schema["$ref"], indent)
        for part in schema.get("allOf", ()):
            visit(part, indent)
        return indent

    def ref(self, ref: str, *where: Any) -> None:
        if not ref.startswith(self.ref_prefix):
            raise ValueError(f"only local references are supported: {ref}")
        target = ref[len(self.ref_prefix) :]
        if target in self.ref_stack:
            if target not in self.ref_functions:
                self.ref_functions[target] = "_ref_" + re.sub(r"\W", "_", target)
                self.pending_refs.append(target)
            self.call_ref(self.ref_functions[target], *where)
            return
        self.ref_stack.append(target)
        self.node(self.definitions[target], *where)
        self.ref_stack.pop()

    def generate(self, root: str, schema: dict[str, Any]) -> None:
        """Write `root` for `schema`, then the functions of the recursive definitions it needs."""
        self.function(root, schema)
        while self.pending_refs:
            target = self.pending_refs.pop()
            self.ref_stack = [target]
            self.function(self.ref_functions[target], self.definitions[target])

    def load(self, source: str, filename: str, namespace: dict[str, Any]) -> dict[str, Any]:
        """Execute the generated source with its constants; → the module's namespace."""
        namespace = {**namespace, **self.constants}
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
        return namespace
