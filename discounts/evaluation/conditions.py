"""The checks that do not depend on other rules: one candidate against the receipt and the ref's past.

`static_problem` answers the path of the first failed condition, in the order `discounts/README.md` lists, or
None. Which lines a reward may go to (`reward_lines`) is decided here too, because the item requirement and the
reward read the same matching.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from discounts.evaluation import matching
from discounts.evaluation.model import Basket, Candidate, Line, as_dict, as_list, parse_at

RECEIPT_NO_DISCOUNT = "receipt_no_discount"
ITEM_NO_DISCOUNT = "item_eligible_for_discount_no_discount"


def item_requirement(candidate: Candidate) -> dict[str, Any]:
    return as_dict(candidate.requirement.get("item"))


def required_items(candidate: Candidate) -> list[Any]:
    return as_list(item_requirement(candidate).get("items"))


def mixes(candidate: Candidate) -> list[dict[str, Any]]:
    return [as_dict(mix) for mix in as_list(item_requirement(candidate).get("mixes"))]


def mix_lines(mix: dict[str, Any], lines: tuple[Line, ...]) -> list[Line]:
    return [line for line in lines if matching.any_item_matches(as_list(mix.get("items")), line)]


def scope_lines(candidate: Candidate, basket: Basket) -> list[Line]:
    """The lines a reward may go to before eligibility: an item rule's matching items (or, with only mixes, the
    lines of its reward-eligible mixes); every line for a receipt rule."""
    items = required_items(candidate)
    if candidate.rule_type == "item" and items:
        return [line for line in basket.lines if matching.any_item_matches(items, line)]
    eligible_mixes = [mix for mix in mixes(candidate) if mix.get("reward_eligible") is True]
    if candidate.rule_type == "item" and eligible_mixes:
        return [line for line in basket.lines if any(line in mix_lines(mix, basket.lines) for mix in eligible_mixes)]
    return list(basket.lines)


def _window_problem(candidate: Candidate, basket: Basket) -> str | None:
    starts = parse_at(candidate.requirement.get("purchase_from"))
    ends = parse_at(candidate.requirement.get("purchase_to"))
    if starts is None or basket.purchase_at < starts:
        return "requirement.purchase_from"
    if ends is None or basket.purchase_at > ends:
        return "requirement.purchase_to"
    days = candidate.limitation.get("dynamic_purchase_to_days")
    if (
        isinstance(days, int | float)
        and not isinstance(days, bool)
        and basket.purchase_at > candidate.ref_created_at + timedelta(days=days)
    ):
        return "limitation.dynamic_purchase_to_days"
    return None


def _amounts_problem(requirement: dict[str, Any], basket: Basket) -> str | None:
    currencies = requirement.get("currencies")
    if isinstance(currencies, list) and currencies and not matching.currency_matches(currencies, basket.currency):
        return "requirement.currencies"
    code = requirement.get("discount_code")
    if isinstance(code, str) and code and code.casefold() not in basket.codes:
        return "requirement.discount_code"
    if basket.gross_amount < _number(requirement.get("gross_amount")):
        return "requirement.gross_amount"
    if basket.net_amount < _number(requirement.get("net_amount")):
        return "requirement.net_amount"
    return None


def _number(value: Any) -> float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _items_problem(candidate: Candidate, basket: Basket) -> str | None:
    items = required_items(candidate)
    matched = [line for line in basket.lines if matching.any_item_matches(items, line)] if items else basket.lines
    if items and not matched:
        return "requirement.item.items"
    for index, mix in enumerate(mixes(candidate)):
        in_mix = mix_lines(mix, basket.lines)
        if not in_mix or sum(line.quantity for line in in_mix) < _number(mix.get("quantity")):
            return f"requirement.item.mixes[{index}]"
    quantity = _number(item_requirement(candidate).get("quantity"))
    if quantity and sum(line.quantity for line in matched) < quantity:
        return "requirement.item.quantity"
    return None


def static_problem(candidate: Candidate, basket: Basket) -> str | None:
    """The first condition this ref fails on this receipt, whatever the other rules do."""
    if (problem := _window_problem(candidate, basket)) is not None:
        return problem
    repeat = candidate.limit("discount_repeat_usage")
    if repeat >= 0 and candidate.usage.purchases >= repeat:
        return "limitation.discount_repeat_usage"
    checks = (
        lambda: matching.hours_problem(candidate.limitation, basket.purchase_at),
        lambda: _amounts_problem(candidate.requirement, basket),
        lambda: matching.store_problem(candidate.requirement, basket),
        lambda: matching.customer_problem(candidate.requirement, basket),
        lambda: _items_problem(candidate, basket),
    )
    for check in checks:
        if (problem := check()) is not None:
            return problem
    if candidate.limitation.get("discount_eligible") == RECEIPT_NO_DISCOUNT and basket.discounted:
        return "limitation.discount_eligible"
    if candidate.reward.get("type") == "discount_debit" and debit_balance(candidate) <= 0:
        return "reward.debit_balance"
    return None


def debit_balance(candidate: Candidate) -> int:
    value = candidate.reward.get("value")
    return candidate.usage.debit_balance(value=int(value)) if isinstance(value, int | float) else 0


def stamps_needed(candidate: Candidate) -> int:
    stamp = candidate.requirement.get("stamp")
    return stamp if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > 0 else 0


Check = Callable[[Candidate, Basket], "str | None"]


def static_plan(candidate: Candidate) -> Check:
    """`static_problem` for the candidates of one rule document and ref date (any usage), with what depends on the
    rule alone decided once: a dry run asks the same rule about every receipt. Checks that cannot fail for this
    rule are left out; the others run in `static_problem`'s order."""
    window = _window_check(candidate)
    if window is None:
        return static_problem
    checks = [window, *_limit_checks(candidate), *_requirement_checks(candidate), *_last_checks(candidate)]

    def problem(candidate: Candidate, basket: Basket) -> str | None:
        for check in checks:
            if (found := check(candidate, basket)) is not None:
                return found
        return None

    return problem


def _limit_checks(candidate: Candidate) -> list[Check]:
    checks: list[Check] = []
    repeat = candidate.limit("discount_repeat_usage")
    if repeat >= 0:
        checks.append(lambda c, basket: "limitation.discount_repeat_usage" if c.usage.purchases >= repeat else None)
    hours = as_dict(candidate.limitation.get("discount_hours"))
    if hours and as_list(hours.get("hours")):
        checks.append(lambda c, basket: matching.hours_problem(c.limitation, basket.purchase_at))
    return checks


def _requirement_checks(candidate: Candidate) -> list[Check]:
    requirement = candidate.requirement
    checks: list[Check] = [lambda c, basket: _amounts_problem(c.requirement, basket)]
    if "store_ids" in requirement or as_dict(requirement.get("store")):
        checks.append(lambda c, basket: matching.store_problem(c.requirement, basket))
    if as_dict(requirement.get("customer")):
        checks.append(lambda c, basket: matching.customer_problem(c.requirement, basket))
    if required_items(candidate) or mixes(candidate) or _number(item_requirement(candidate).get("quantity")):
        checks.append(_items_problem)
    return checks


def _last_checks(candidate: Candidate) -> list[Check]:
    checks: list[Check] = []
    if candidate.limitation.get("discount_eligible") == RECEIPT_NO_DISCOUNT:
        checks.append(lambda c, basket: "limitation.discount_eligible" if basket.discounted else None)
    if candidate.reward.get("type") == "discount_debit":
        checks.append(lambda c, basket: "reward.debit_balance" if debit_balance(c) <= 0 else None)
    return checks


def _window_check(candidate: Candidate) -> Check | None:
    """`_window_problem` with the rule's dates read once; None when they cannot be (a dynamic window beyond the
    dates Python has), for `static_problem` to meet as it does."""
    starts = parse_at(candidate.requirement.get("purchase_from"))
    ends = parse_at(candidate.requirement.get("purchase_to"))
    days = candidate.limitation.get("dynamic_purchase_to_days")
    until: datetime | None = None
    if isinstance(days, int | float) and not isinstance(days, bool):
        try:
            until = candidate.ref_created_at + timedelta(days=days)
        except (OverflowError, ValueError):
            return None

    def window(_: Candidate, basket: Basket) -> str | None:
        at = basket.purchase_at
        if starts is None or at < starts:
            return "requirement.purchase_from"
        if ends is None or at > ends:
            return "requirement.purchase_to"
        if until is not None and at > until:
            return "limitation.dynamic_purchase_to_days"
        return None

    return window
