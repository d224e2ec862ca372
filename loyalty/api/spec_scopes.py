"""Scopes straight from a spec's `x-scopes`, so views cannot drift from the contract."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml


@cache
def _operations(spec_path: str) -> dict[str, tuple[str, ...]]:
    spec = yaml.safe_load(Path(spec_path).read_text())
    found: dict[str, tuple[str, ...]] = {}
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = tuple(operation.get("x-scopes", ()))
    return found


def x_scopes(spec_path: Path, operation_id: str) -> tuple[str, ...]:
    scopes = _operations(str(spec_path))[operation_id]
    if not scopes:
        raise LookupError(f"{operation_id} declares no x-scopes")
    return scopes
