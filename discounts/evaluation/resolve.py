"""Which refs apply together: one ref per rule, `discount_activation`, then `discount_combination`.

The order (see `discounts/README.md`, "Evaluation at the till"):
1. each ref's own conditions (`conditions.static_problem`);
2. one ref per rule: the customer's own refs before `*`/`/`, then the oldest ref; the others are overshadowed;
3. `deactivate_if_discount_active`: off when the named rule passed step 1 (both off when they name each other);
4. the options: every combinable rule (`discount_combination` -1) together, or one exclusive rule (0) alone. Inside
   an option rules apply one after the other, item rules before receipt rules, oldest rule first, each on what the
   earlier ones left. The option that saves the customer most (discount plus bonus) wins; on a tie the one holding
   the oldest rule. A ref that only collects a stamp saves nothing and is never in competition: it always applies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from discounts.evaluation.conditions import Check, stamps_needed, static_problem
from discounts.evaluation.model import Basket, Candidate, as_dict, as_list
from discounts.evaluation.rewards import Award, Refusal, TillState, apply, reward

ACTIVATION = "deactivate_if_discount_active"


class Status(StrEnum):
    APPLIED = "applied"
    NOT_APPLICABLE = "not_applicable"
    OVERSHADOWED = "overshadowed"


@dataclass(frozen=True)
class Verdict:
    candidate: Candidate
    status: Status
    path: str | None = None  # the condition that failed (not_applicable) or that decided (overshadowed)
    by: str | None = None  # overshadowed: the rule (or the other ref) that won


@dataclass(frozen=True)
class Evaluation:
    awards: tuple[Award, ...]  # in the order they applied
    verdicts: tuple[Verdict, ...]  # one per candidate, in the candidates' order


@dataclass(frozen=True)
class Option:
    awards: tuple[Award, ...]
    refusals: tuple[Refusal, ...]

    @property
    def saving(self) -> int:
        return sum(award.total for award in self.awards)

    def rank(self) -> tuple[int, tuple]:
        oldest = min((award.candidate.order_key for award in self.awards if award.total), default=None)
        # larger saving first; then the option holding the oldest rule (no rule at all ranks last)
        return (-self.saving, (0, oldest) if oldest else (1,))


def application_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.rule_type != "item", c.order_key, c.ref_id))


def run(candidates: Iterable[Candidate], basket: Basket) -> Option:
    state = TillState.start(basket)
    awards: list[Award] = []
    refusals: list[Refusal] = []
    for candidate in application_order(candidates):
        outcome = reward(candidate, basket, state)
        if isinstance(outcome, Refusal):
            refusals.append(outcome)
        else:
            apply(outcome, state)
            awards.append(outcome)
    return Option(tuple(awards), tuple(refusals))


def _one_ref_per_rule(passed: list[Candidate]) -> tuple[list[Candidate], dict[str, Candidate]]:
    """The ref each rule applies through, and the other refs with the ref that overshadows them."""
    chosen: dict[str, Candidate] = {}
    for candidate in sorted(passed, key=lambda c: (c.shared, c.ref_created_at, c.ref_id)):
        chosen.setdefault(candidate.rule_id, candidate)
    others = {c.ref_id: chosen[c.rule_id] for c in passed if chosen[c.rule_id] is not c}
    return list(chosen.values()), others


def _deactivated(candidate: Candidate, active: set[str]) -> bool:
    return any(
        as_dict(entry).get("type") == ACTIVATION and as_dict(entry).get("value") in active - {candidate.rule_id}
        for entry in as_list(candidate.limitation.get("discount_activation"))
    )


def _stamp_only(candidate: Candidate, basket: Basket) -> bool:
    if not stamps_needed(candidate):
        return False
    outcome = reward(candidate, basket, TillState.start(basket))
    return isinstance(outcome, Award) and not outcome.total and outcome.stamp > 0


def _best(competing: list[Candidate], basket: Basket) -> Option:
    combinable = [c for c in competing if not c.exclusive]
    options = [run(combinable, basket)] + [run([c], basket) for c in competing if c.exclusive]
    return min(options, key=Option.rank)


def evaluate(basket: Basket, candidates: list[Candidate]) -> Evaluation:
    verdicts: dict[str, Verdict] = {}
    passed = []
    for candidate in candidates:
        problem = static_problem(candidate, basket)
        if problem:
            verdicts[candidate.ref_id] = Verdict(candidate, Status.NOT_APPLICABLE, problem)
        else:
            passed.append(candidate)
    chosen, others = _one_ref_per_rule(passed)
    for ref_id, kept in others.items():
        loser = next(c for c in passed if c.ref_id == ref_id)
        verdicts[ref_id] = Verdict(loser, Status.OVERSHADOWED, "ref", by=kept.ref_id)
    active = {c.rule_id for c in chosen}
    live = []
    for candidate in chosen:
        if _deactivated(candidate, active):
            verdicts[candidate.ref_id] = Verdict(candidate, Status.NOT_APPLICABLE, "limitation.discount_activation")
        else:
            live.append(candidate)
    stamping = [c for c in live if _stamp_only(c, basket)]
    best = _best([c for c in live if c not in stamping], basket)
    stamps = run(stamping, basket)
    awards = (*best.awards, *stamps.awards)
    for award in awards:
        verdicts[award.candidate.ref_id] = Verdict(award.candidate, Status.APPLIED)
    for refusal in best.refusals:
        verdicts[refusal.candidate.ref_id] = Verdict(refusal.candidate, Status.NOT_APPLICABLE, refusal.path)
    winner = next((a.candidate.rule_id for a in best.awards if a.total), None)
    for candidate in live:
        verdicts.setdefault(
            candidate.ref_id,
            Verdict(candidate, Status.OVERSHADOWED, "limitation.discount_combination", by=winner),
        )
    return Evaluation(awards=awards, verdicts=tuple(verdicts[c.ref_id] for c in candidates))


def evaluate_alone(basket: Basket, candidate: Candidate, static: Check = static_problem) -> Award | str:
    """`evaluate(basket, [candidate])` for one candidate, without the steps only several candidates need (a dry run
    evaluates one rule per receipt): its award (a stamp-only one too), or the path of its verdict when it gets none.
    `static` may be the rule's `static_plan`. tests/discounts/test_simulation_paths.py compares the two on generated
    rules and receipts."""
    problem = static(candidate, basket)
    if problem is not None:
        return problem
    outcome = reward(candidate, basket, TillState.start(basket))
    if isinstance(outcome, Award):
        return outcome
    # alone, an exclusive rule's option ties with the empty option, which ranks first (`_best`): overshadowed
    return "limitation.discount_combination" if candidate.exclusive else outcome.path
