"""Every criterion declares itself once, completely; validation, the builder, freshness and the README follow."""

from __future__ import annotations

import pytest

from segments.criteria import CLOCK_TYPES, CRITERIA, LIST_TYPES, PERIOD_FIELDS, validate_definition
from segments.criteria.declaration import GROUPS, KINDS
from segments.criteria.readme import README, readme_with_table


@pytest.mark.parametrize("kind", sorted(CRITERIA))
def test_every_registered_type_is_completely_declared(kind):
    criterion = CRITERIA[kind]
    assert criterion.type == kind
    assert criterion.label.strip() and criterion.group in GROUPS
    assert criterion.matches.strip() and isinstance(criterion.example, dict)
    assert criterion.fields and len({f.name for f in criterion.fields}) == len(criterion.fields)
    names = {f.name for f in criterion.fields}
    for field in criterion.fields:
        assert field.kind in KINDS and field.label.strip(), field
        assert (field.kind == "choice") == bool(field.choices), field
        if field.minimum is not None and field.maximum is not None:
            assert field.minimum <= field.maximum, field
    for low, high in criterion.ranges:
        assert {low, high} <= names
    assert set(criterion.one_of) <= names
    if criterion.period is not None:
        assert set(criterion.period) <= names
    # and the README's example is a criterion validation accepts
    assert validate_definition([{"criteria": [{"type": kind, **criterion.example}]}])


def test_the_readme_criteria_table_is_the_registry_s():
    text = README.read_text()
    assert readme_with_table(text) == text, "run: manage.py segments_readme"


def test_freshness_sets_follow_the_declarations():
    assert {
        "transaction_amount_in_last_n_days",
        "transaction_amount_each_day_in_last_n_days",
        "last_purchase_n_days_before",
        "last_transaction_between_days",
        "anniversary",
        "age",
    } == CLOCK_TYPES
    assert {"customer_list", "customer_csv_list"} == LIST_TYPES
    assert (
        dict.fromkeys(
            [
                "transaction_count_in_period",
                "transaction_amount_in_period",
                "transaction_amount_each_day_in_period",
                "purchase_period",
            ],
            ("fromDate", "toDate"),
        )
        == PERIOD_FIELDS
    )


def test_the_builder_s_bounds_are_validation_s():
    # a value just past a field's declared bound is refused by validation with that field's path
    for kind, criterion in CRITERIA.items():
        for field in criterion.fields:
            if field.kind != "int" or field.maximum is None:
                continue
            raw = {"type": kind, **criterion.example, field.name: field.maximum + 1}
            with pytest.raises(Exception) as caught:
                validate_definition([{"criteria": [raw]}])
            assert f"parts[0].criteria[0].{field.name}" in [p for p, _, _ in caught.value.errors], (kind, field.name)


def test_last_purchase_n_days_before_is_labelled_as_what_it_means():
    assert CRITERIA["last_purchase_n_days_before"].label == "Bought in the last N days"
