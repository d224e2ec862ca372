"""Every condition path the discount engine can report has plain words on the pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from loyalty.web.why import condition_words

ENGINE = Path(__file__).resolve().parents[2] / "discounts" / "evaluation"
GENERIC = "The purchase does not meet one of the rule's conditions"


def engine_paths() -> set[str]:
    """The literal paths the evaluator returns or refuses with (f-string parts filled with a sample)."""
    found: set[str] = set()
    for source in ENGINE.glob("*.py"):
        text = source.read_text()
        for match in re.finditer(
            r"""(?:return|Refusal\([^,]+,|Verdict\([^)]*?,)\s*f?"((?:requirement|limitation|items|reward|ref)[^"]*)\"""",
            text,
        ):
            found.add(re.sub(r"\{[^}]*\}", "0", match.group(1)).replace("[0]", "[0]"))
    return found


def test_the_engine_reports_paths_we_know():
    assert {"limitation.discount_hours", "requirement.item.items", "requirement.item.mixes[0]"} <= engine_paths()


@pytest.mark.parametrize("path", sorted(engine_paths() | {"ref", "reward.value"}))
def test_every_path_has_words(path):
    words = condition_words(path)
    assert words and words != GENERIC and "." not in words and "_" not in words


def test_an_unknown_path_gets_a_general_sentence():
    assert condition_words("requirement.something_new") == GENERIC
    assert condition_words(None) == ""
