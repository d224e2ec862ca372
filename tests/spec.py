"""Validate responses against the specs with jsonschema, an implementation independent of ours."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPECS = {
    "receipts": ROOT / "receipts" / "spec" / "dintero-receipts.yaml",
    "discounts": ROOT / "discounts" / "spec" / "dintero-discounts.yaml",
    "segments": ROOT / "segments" / "spec" / "openloyalty-segments.json",
}


@cache
def _spec(name: str) -> dict[str, Any]:
    if name == "receipts":
        # with the one documented erratum (numeric store MCCs in Dintero's own example); see receipts/README.md
        from receipts.documents import spec

        return spec()
    if name == "discounts":
        # with the same erratum, which its requirement definitions share, and the links limit; see discounts/README.md
        from discounts.documents import spec as discounts_spec

        return discounts_spec()
    path = SPECS[name]
    return json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())


def _operation(spec: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    raise KeyError(operation_id)


def response_schema(name: str, operation_id: str, status: int) -> dict[str, Any] | None:
    spec = _spec(name)
    response = _operation(spec, operation_id)["responses"][str(status)]
    if "$ref" in response:
        ref = response["$ref"].split("/")
        response = spec[ref[1]][ref[2]] if ref[1] == "responses" else spec[ref[1]][ref[2]][ref[3]]
    if "schema" in response:  # Swagger 2.0
        return _oas3_to_jsonschema({**response["schema"], "definitions": spec.get("definitions", {})})
    content = response.get("content", {}).get("application/json")
    if content is None:
        return None
    return _oas3_to_jsonschema({**content["schema"], "components": spec.get("components", {})})


def _oas3_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` (Swagger 2.0's `x-nullable: true`) is `type: [T, "null"]` in JSON Schema."""
    if isinstance(node, dict):
        out = {k: _oas3_to_jsonschema(v) for k, v in node.items()}
        nullable = out.pop("nullable", False) | bool(out.pop("x-nullable", False))
        if nullable and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_oas3_to_jsonschema(v) for v in node]
    return node


def assert_response_matches(name: str, operation_id: str, response) -> None:
    """The response's status is documented for the operation and its body matches the documented schema."""
    schema = response_schema(name, operation_id, response.status_code)
    if schema is None:
        assert not response.content, f"{operation_id} {response.status_code} should have no body"
        return
    body = response.json()
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(body)
