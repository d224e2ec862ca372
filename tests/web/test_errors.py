"""Domain errors on pages: rendered once, onto the form or as the 404/403 page."""

from __future__ import annotations

import pytest
from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404

from discounts.services import DiscountValidationError
from loyalty.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from loyalty.web.errors import domain_errors, page_errors


class Form(forms.Form):
    name = forms.CharField(required=False)
    reward_value = forms.CharField(required=False)


def test_a_domain_error_goes_onto_the_fields_it_names():
    form = Form({})
    assert form.is_valid()
    error = ValidationFailed(
        "The rule has 3 problems.",
        field_errors=[
            FieldError("name", "Too long."),
            FieldError("reward.value", "Must be positive."),
            FieldError("limitation.x", "Unknown."),
        ],
    )
    with domain_errors(form, fields={"reward.value": "reward_value"}) as caught:
        raise error
    assert caught.failed and caught.error is error
    assert form.errors == {
        "__all__": ["The rule has 3 problems.", "limitation.x: Unknown."],
        "name": ["Too long."],
        "reward_value": ["Must be positive."],
    }


def test_an_error_class_not_yet_in_the_family_is_read_the_same_way():
    form = Form({})
    form.is_valid()
    with domain_errors(form) as caught:
        raise DiscountValidationError("Rule has 1 problem.", [("name", "Required.")])
    assert caught.message == "Rule has 1 problem."
    assert form.errors == {"__all__": ["Rule has 1 problem."], "name": ["Required."]}


def test_without_a_form_the_error_is_only_caught():
    with domain_errors() as caught:
        raise Conflict("Busy.")
    assert caught.problems() == [("", "Busy.")]
    with domain_errors() as fine:
        pass
    assert not fine.failed and fine.message is None


def test_not_found_and_forbidden_are_the_pages_404_and_403():
    with pytest.raises(NotFound), domain_errors(Form({})):
        raise NotFound()

    @page_errors
    def missing():
        raise NotFound("No such segment.")

    @page_errors
    def refused():
        raise Forbidden("Not yours.")

    with pytest.raises(Http404):
        missing()
    with pytest.raises(PermissionDenied):
        refused()
