"""How the segment builder presents each criterion type: its label, its group and typed inputs per field.

All of it is derived from the criteria's own declarations (segments.criteria: `Criterion.label`, `group`, `fields`),
so the builder offers exactly the registered types with the bounds validation applies; the builder shows
validation's errors next to the fields by path.
"""

from __future__ import annotations

from typing import Any

from segments.criteria import CRITERIA
from segments.criteria.declaration import GROUPS

CATALOGUE: list[dict[str, Any]] = [
    {
        "type": kind,
        "group": GROUPS.index(criterion.group),
        "label": criterion.label,
        "fields": [field.builder_input() for field in criterion.fields],
        "counts": criterion.what_counts(),
        "example": criterion.example_words(),
    }
    for kind, criterion in CRITERIA.items()
]


def catalogue(*, stores: list[tuple[str, str]], currency: str) -> dict[str, Any]:
    return {
        "groups": list(GROUPS),
        "types": CATALOGUE,
        "stores": [{"id": sid, "name": name or sid} for sid, name in stores],
        "currency": currency,
    }
