"""What one rule's reward gives on the receipt as it stands after the rules applied before it.

Each reward type computes an exact (rational) amount per line; `allocate` then rounds once per rule (half up) and
hands out the minor units by largest remainder, never more than a line has left, so the lines always add up to the
ref's amount. A `bonus` reward is computed the same way but leaves the lines' amounts as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from discounts.evaluation import matching
from discounts.evaluation.conditions import (
    ITEM_NO_DISCOUNT,
    debit_balance,
    mix_lines,
    mixes,
    scope_lines,
    stamps_needed,
)
from discounts.evaluation.model import Basket, Candidate, Line, as_dict, as_list

Exact = dict[int, Fraction]  # line index → amount before rounding (the uncommon reward types)


@dataclass(frozen=True)
class Share:
    """Exact amounts per line index as integer numerators over one denominator: what `allocate` rounds. The common
    reward types build it with integer arithmetic (a Fraction per line costs more than the rest of the evaluation)."""

    nums: dict[int, int]
    den: int = 1

    @classmethod
    def of(cls, exact: Exact) -> Share:
        if not exact:
            return cls({}, 1)
        den = math.lcm(*(amount.denominator for amount in exact.values()))
        return cls({i: amount.numerator * (den // amount.denominator) for i, amount in exact.items()}, den)


@dataclass
class TillState:
    """The receipt while rules apply one after the other: what each line has left, and which lines carry a
    discount (sent with the receipt or given by an earlier rule)."""

    left: dict[int, int]
    discounted: set[int] = field(default_factory=set)

    @classmethod
    def start(cls, basket: Basket) -> TillState:
        return cls(
            left={line.index: max(0, line.net) for line in basket.lines},
            discounted={line.index for line in basket.lines if line.discounted},
        )

    def copy(self) -> TillState:
        return TillState(left=dict(self.left), discounted=set(self.discounted))


@dataclass(frozen=True)
class Award:
    """What a ref gets: minor units per line index (a discount, or a bonus), rewards used, stamps collected."""

    candidate: Candidate
    lines: dict[int, int]
    bonus: bool
    usage: int
    stamp: int

    @property
    def total(self) -> int:
        return sum(self.lines.values())


@dataclass(frozen=True)
class Refusal:
    candidate: Candidate
    path: str


def allocate(share: Share, caps: dict[int, int]) -> dict[int, int]:
    """Round the total once (half up), then give each line its floor and the remaining units to the largest
    remainders (ties: receipt order); no line gets more than its cap."""
    den = share.den
    capped = {i: max(0, min(num, caps[i] * den)) for i, num in share.nums.items()}
    total = min((2 * sum(capped.values()) + den) // (2 * den), sum(caps[i] for i in capped))
    given = {i: num // den for i, num in capped.items()}
    short = total - sum(given.values())
    if short > 0:
        for i in sorted(capped, key=lambda i: (-(capped[i] % den), i))[:short]:
            given[i] += 1
    return {i: amount for i, amount in given.items() if amount > 0}


def line_value(candidate: Candidate, line: Line) -> Fraction:
    """`reward.values[]` overrides `reward.value` for the lines its items match (the first entry that does)."""
    for entry in as_list(candidate.reward.get("values")):
        if matching.any_item_matches(as_list(as_dict(entry).get("items")), line):
            return _fraction(as_dict(entry).get("value"))
    return candidate.value


def _overrides(candidate: Candidate) -> bool:
    return bool(candidate.reward.get("values"))


def _fraction(value: Any) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return Fraction(0)
    return Fraction(str(value))


@dataclass(frozen=True)
class Context:
    candidate: Candidate
    basket: Basket
    state: TillState
    lines: list[Line]  # the eligible lines of the reward's scope, in receipt order

    def base_int(self, line: Line) -> int:
        return self.state.left[line.index] if self.candidate.reward.get("base") == "net" else max(0, line.gross)

    def base(self, line: Line) -> Fraction:
        return Fraction(self.base_int(line))

    def unit(self, line: Line) -> Fraction:
        return self.base(line) / line.units

    def top(self, share: Share) -> Share:
        """An item rule rewards at most `discount_reward_usage` lines: those it gives most."""
        limit = self.candidate.limit("discount_reward_usage")
        if limit < 0 or len(share.nums) <= limit:
            return share
        best = sorted(share.nums, key=lambda i: (-share.nums[i], i))[:limit]
        return Share({i: share.nums[i] for i in best}, share.den)

    def spread(self, amount: Fraction) -> Share:
        """An amount over the lines in proportion to what each has left."""
        weights = {line.index: self.state.left[line.index] for line in self.lines}
        whole = sum(weights.values())
        if not whole:
            return Share({})
        return Share({i: amount.numerator * w for i, w in weights.items()}, amount.denominator * whole)

    def per_line(self, line: Line) -> Fraction:
        """The reward value for this line (`values[]` or `value`)."""
        return line_value(self.candidate, line)


def _item_usage(ctx: Context, share: Share) -> tuple[Share, int]:
    if ctx.candidate.rule_type != "item":
        return share, 1
    share = ctx.top(share)
    return share, len(share.nums)


def _percent(ctx: Context) -> tuple[Share, int]:
    if _overrides(ctx.candidate):
        exact = {line.index: ctx.base(line) * ctx.per_line(line) / 100 for line in ctx.lines}
        return _item_usage(ctx, Share.of(exact))
    value = ctx.candidate.value
    nums = {line.index: ctx.base_int(line) * value.numerator for line in ctx.lines}
    return _item_usage(ctx, Share(nums, 100 * value.denominator))


def _amount(ctx: Context) -> tuple[Share, int]:
    if ctx.candidate.rule_type == "item":
        share = ctx.top(Share.of({line.index: ctx.per_line(line) for line in ctx.lines}))
        return share, len(share.nums)
    return ctx.spread(ctx.candidate.value), 1


def _new_price(ctx: Context) -> tuple[Share, int]:
    exact = {line.index: Fraction(line.gross) - ctx.per_line(line) * line.quantity for line in ctx.lines}
    share = Share.of({i: amount for i, amount in exact.items() if amount > 0})
    if ctx.candidate.rule_type == "item":  # discount_reward_usage limits item rules only (README, "Rewards")
        share = ctx.top(share)
    return share, len(share.nums)


def _take(ctx: Context, lines: list[Line], *, count: int, dearest: bool, taken: dict[int, int]) -> dict[int, int]:
    """Units per line index: the `count` cheapest (or dearest) not `taken` yet, ties in receipt order. Counted
    per line, never unit by unit, so a line of 10,000 units costs what a line of one does."""
    order = sorted(lines, key=lambda line: (-ctx.unit(line) if dearest else ctx.unit(line), line.index))
    got: dict[int, int] = {}
    for line in order:
        if count <= 0:
            break
        units = min(line.units - taken.get(line.index, 0), count)
        if units > 0:
            got[line.index] = units
            count -= units
    return got


def _free_items(ctx: Context) -> tuple[Share, int]:
    by_index = {line.index: line for line in ctx.lines}
    free = _take(ctx, ctx.lines, count=int(ctx.candidate.value), dearest=False, taken={})
    return Share.of({index: units * ctx.unit(by_index[index]) for index, units in free.items()}), 1


def _cheapest_percent(ctx: Context) -> tuple[Share, int]:
    cheapest = _take(ctx, ctx.lines, count=1, dearest=False, taken={})
    if not cheapest:
        return Share({}), 0
    (index,) = cheapest
    line = next(line for line in ctx.lines if line.index == index)
    return Share.of({index: ctx.unit(line) * ctx.per_line(line) / 100}), 1


def _debit(ctx: Context) -> tuple[Share, int]:
    whole = sum(ctx.state.left[line.index] for line in ctx.lines)
    return ctx.spread(Fraction(min(debit_balance(ctx.candidate), whole))), 1


def _mix_price(ctx: Context) -> tuple[Share, int]:
    """Each reward-eligible mix takes its quantity of the dearest units of its items not taken by an earlier mix;
    the discount is their total less the value, in proportion to the units taken."""
    taken: dict[int, int] = {}
    for mix in mixes(ctx.candidate):
        if mix.get("reward_eligible") is not True:
            continue
        in_mix = [line for line in mix_lines(mix, ctx.basket.lines) if line in ctx.lines]
        quantity = mix.get("quantity")
        needed = max(1, math.ceil(quantity)) if isinstance(quantity, int | float) else 1
        for index, units in _take(ctx, in_mix, count=needed, dearest=True, taken=taken).items():
            taken[index] = taken.get(index, 0) + units
    by_index = {line.index: line for line in ctx.lines}
    amounts = {index: units * ctx.unit(by_index[index]) for index, units in taken.items()}
    total = sum(amounts.values(), Fraction(0))
    off = total - ctx.candidate.value
    if off <= 0 or not total:
        return Share({}), 0
    return Share.of({index: off * amount / total for index, amount in amounts.items()}), 1


REWARDS: dict[str, Callable[[Context], tuple[Share, int]]] = {
    "discount_amount": _amount,
    "discount_percent": _percent,
    "discount_item_new_price": _new_price,
    "discount_item_quantity": _free_items,
    "discount_item_percent": _cheapest_percent,
    "discount_debit": _debit,
    "discount_mix_new_price": _mix_price,
}


def eligible(candidate: Candidate, basket: Basket, state: TillState) -> list[Line] | str:
    """The reward's lines, or the path of the condition that left none."""
    lines = [line for line in scope_lines(candidate, basket) if line.eligible]
    if not lines:
        return "items.eligible_for_discount"
    blacklist = as_list(candidate.limitation.get("blacklist"))
    if blacklist:
        lines = [line for line in lines if not matching.any_item_matches(blacklist, line)]
        if not lines:
            return "limitation.blacklist"
    if candidate.limitation.get("discount_eligible") == ITEM_NO_DISCOUNT:
        lines = [line for line in lines if line.index not in state.discounted]
    bonus = candidate.reward.get("effect") == "bonus"
    lines = [line for line in lines if bonus or state.left[line.index] > 0]
    return lines or "limitation.discount_eligible"


def _stamp_only(candidate: Candidate) -> Award:
    return Award(candidate=candidate, lines={}, bonus=False, usage=0, stamp=1)


def reward(candidate: Candidate, basket: Basket, state: TillState) -> Award | Refusal:
    """The ref's award on the receipt as `state` has it (the caller applies it), or why it gets nothing."""
    needed = stamps_needed(candidate)
    if needed:
        expire = candidate.limit("stamp_expire_days")
        collected = candidate.usage.current_stamp(now=basket.purchase_at, expire_days=expire) + 1
        if collected < needed:
            return _stamp_only(candidate)
    lines = eligible(candidate, basket, state)
    if isinstance(lines, str):
        return _stamp_only(candidate) if needed else Refusal(candidate, lines)
    ctx = Context(candidate=candidate, basket=basket, state=state, lines=lines)
    kind = str(candidate.reward.get("type"))
    share, usage = REWARDS[kind](ctx) if kind in REWARDS else (Share({}), 0)
    bonus = candidate.reward.get("effect") == "bonus"
    caps = {line.index: (ctx.base_int(line) if bonus else state.left[line.index]) for line in lines}
    given = allocate(share, caps)
    if not given:
        return _stamp_only(candidate) if needed else Refusal(candidate, "reward.value")
    return Award(candidate, given, bonus, usage=usage, stamp=1 if needed else 0)


def apply(award: Award, state: TillState) -> None:
    if award.bonus:
        return
    for index, amount in award.lines.items():
        state.left[index] -= amount
        state.discounted.add(index)
