"""Writes of discount rules and of their refs. Each function is one transaction; refs are written nowhere else.

Every write to a rule or its refs first locks the rule's row, so giving, taking, updating and deleting one rule
happen one at a time: the update rules' "has it been given?" and giving's "does the customer already hold it?"
cannot race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from discounts import documents
from discounts import sql as statements
from discounts.errors import DiscountValidationError, RuleNotFound, RuleUpdateError
from discounts.models import Automation, DiscountRule
from discounts.selectors import rule_was_given
from loyalty.accounts.models import Account
from loyalty.core.ids import uuid7_block
from loyalty.core.services import audit_record
from loyalty.core.sql import raw_cursor
from loyalty.core.validation import Problems
from segments.models import Segment

__all__ = ["DiscountValidationError", "RuleUpdateError"]  # raised here; importable from here

# Audit actions: the back-office pages' names for the writes they make (so the log reads the same whichever way a
# change came in), and this app's own for the writes only the API and the pushes make.
RULE_CREATE = "web:rule-new"
RULE_UPDATE = "web:rule-edit"
RULE_DELETE = "discounts:rule-delete"
RULE_CUSTOMERS_GIVE = "discounts:rule-customers-give"
RULE_CUSTOMERS_TAKE = "discounts:rule-customers-take"


def _invalid(what: str, errors: Problems) -> DiscountValidationError:
    return DiscountValidationError(f"{what} has {len(errors)} problem{'s' if len(errors) != 1 else ''}.", errors)


COLUMNS = (
    "document",
    "name",
    "active",
    "private",
    "type",
    "purchase_from",
    "purchase_to",
    "visible_from",
    "campaign_id",
)


def _columns(parsed: documents.ParsedRule) -> dict[str, Any]:
    return {name: getattr(parsed, name) for name in COLUMNS}


def _audit(rule: DiscountRule, *, account: Account, actor: str, action: str, summary: str = "") -> None:
    audit_record(
        account=account,
        actor=actor,
        action=action,
        object_type=DiscountRule._meta.label,
        object_id=str(rule.pk),
        summary=summary or (rule.name or str(rule.pk)),
    )


def _lock_rule(account: Account, rule_id: Any) -> DiscountRule:
    rule = DiscountRule.objects.select_for_update().filter(account=account, pk=rule_id, deleted_at__isnull=True).first()
    if rule is None:
        raise RuleNotFound(rule_id)
    return rule


def rule_create(*, account: Account, document: Any, actor: str) -> DiscountRule:
    if not isinstance(document, dict):
        raise DiscountValidationError("The body must be a discount rule object.", [("", "must be an object")])
    document = documents.strip_server_fields(document)
    errors = documents.validate_discount(document)
    if errors:
        raise _invalid("The discount rule", errors)
    now = timezone.now()
    with transaction.atomic():
        rule = DiscountRule.objects.create(
            account=account,
            **_columns(documents.parse_rule(document)),
            created_at=now,
            created_by=actor,
            updated_at=now,
            updated_by=actor,
        )
        _audit(rule, account=account, actor=actor, action=RULE_CREATE)
    return rule


def rule_update_validate(
    *,
    account: Account,
    rule: DiscountRule,
    changes: Any,
    replace: bool = False,
    start_and_reward_fixed: bool = False,
) -> documents.ParsedRule:
    """The rule as `changes` would leave it, or DiscountValidationError / RuleUpdateError. Writes nothing.

    `replace=False` is PUT (see documents.apply_changes); `replace=True` takes `changes` as the whole new document.
    `start_and_reward_fixed` is Dintero's PUT, where requirement.purchase_from and reward never change; the
    back-office may change them until the rule is first given (documents.update_problems).
    """
    if not isinstance(changes, dict):
        raise DiscountValidationError("The body must be an object.", [("", "must be an object")])
    errors = [] if replace else documents.validate_body("aid_discounts_did_put", changes)
    if errors:
        raise _invalid("The update", errors)
    updated = documents.apply_changes(rule.document, changes, replace=replace)
    errors = documents.validate_discount(updated)
    if errors:
        raise _invalid("The updated discount rule", errors)
    problems = documents.update_problems(
        current=rule.document,
        current_type=rule.type,
        changes=changes,
        updated=updated,
        given=rule_was_given(account=account, rule=rule),
        start_and_reward_fixed=start_and_reward_fixed,
    )
    if problems:
        raise RuleUpdateError(rule, problems)
    return documents.parse_rule(updated)


def rule_update(
    *,
    account: Account,
    rule: DiscountRule,
    changes: Any,
    actor: str,
    replace: bool = False,
    start_and_reward_fixed: bool = False,
) -> DiscountRule:
    with transaction.atomic():
        locked = _lock_rule(account, rule.pk)
        parsed = rule_update_validate(
            account=account,
            rule=locked,
            changes=changes,
            replace=replace,
            start_and_reward_fixed=start_and_reward_fixed,
        )
        for name, value in _columns(parsed).items():
            setattr(locked, name, value)
        locked.updated_at = timezone.now()
        locked.updated_by = actor
        locked.save(update_fields=[*COLUMNS, "updated_at", "updated_by"])
        _audit(locked, account=account, actor=actor, action=RULE_UPDATE)
    return locked


def rule_delete(*, account: Account, rule: DiscountRule, actor: str) -> DiscountRule:
    """Soft delete: the rule answers 404 from now on, its refs stay (and stay listed by state). The automations
    that give it are deleted with it, as the spec says."""
    with transaction.atomic():
        locked = _lock_rule(account, rule.pk)
        locked.deleted_at = locked.updated_at = timezone.now()
        locked.deleted_by = locked.updated_by = actor
        locked.save(update_fields=["deleted_at", "deleted_by", "updated_at", "updated_by"])
        Automation.objects.filter(account=account, rule_ids__contains=[locked.pk], deleted_at__isnull=True).update(
            deleted_at=locked.deleted_at, deleted_by=actor, updated_at=locked.deleted_at
        )
        _audit(locked, account=account, actor=actor, action=RULE_DELETE)
    return locked


# --- refs -------------------------------------------------------------------------------------------------------


def rule_customers_give(
    *,
    account: Account,
    rule: DiscountRule,
    customer_ids: Sequence[str],
    offering_constraint_id: str | None,
    actor: str,
) -> int:
    """Give the rule to customers (`*` and `/` included, as ids); returns how many refs were added.

    Idempotent: giving again adds nothing (see the README's "Idempotency"). One INSERT ... SELECT FROM unnest.
    """
    problems = documents.customer_ids_problems(customer_ids) + documents.offering_constraint_problems(
        offering_constraint_id
    )
    if problems:
        raise _invalid("The customers", problems)
    customers = list(dict.fromkeys(customer_ids))
    with transaction.atomic():
        _lock_rule(account, rule.pk)
        if not customers:
            return 0
        cur = raw_cursor()
        cur.execute(
            statements.give(only_without_live_ref=not offering_constraint_id),
            {
                "account": account.pk,
                "rule": rule.pk,
                "constraint": offering_constraint_id,
                "now": timezone.now(),
                "actor": actor,
                **uuid7_block(len(customers)),
                "customers": customers,
            },
        )
        _audit_refs(rule, account=account, actor=actor, action=RULE_CUSTOMERS_GIVE, count=cur.rowcount)
        return cur.rowcount


def rule_customers_take(*, account: Account, rule: DiscountRule, customer_ids: Sequence[str] | None, actor: str) -> int:
    """Take the rule back from customers (every live ref they hold of it); None takes it from everyone.

    Ids are literal here: `["*"]` takes only the ref given to `*`. Returns how many refs were taken.
    """
    if customer_ids is not None:
        problems = documents.customer_ids_problems(customer_ids)
        if problems:
            raise _invalid("The customers", problems)
    with transaction.atomic():
        _lock_rule(account, rule.pk)
        params: dict[str, Any] = {"account": account.pk, "rule": rule.pk, "now": timezone.now(), "actor": actor}
        if customer_ids is not None:
            if not customer_ids:
                return 0
            params["customers"] = list(dict.fromkeys(customer_ids))
        cur = raw_cursor()
        cur.execute(statements.take(only_customers=customer_ids is not None), params)
        _audit_refs(rule, account=account, actor=actor, action=RULE_CUSTOMERS_TAKE, count=cur.rowcount)
        return cur.rowcount


def rule_customers_take_from(*, account: Account, rule: DiscountRule, customer_ids: Sequence[str], actor: str) -> int:
    """The API's take-back: ids are literal, but `*` stands for every customer id, so it takes back the `*` ref and
    every customer's refs. The `/` ref (purchases without a customer id) is another audience: taken back only
    when `/` is named too. Returns how many refs were taken."""
    if documents.ANY_CUSTOMER not in customer_ids:
        return rule_customers_take(account=account, rule=rule, customer_ids=customer_ids, actor=actor)
    problems = documents.customer_ids_problems(customer_ids)
    if problems:
        raise _invalid("The customers", problems)
    spared = [] if documents.NO_CUSTOMER in customer_ids else [documents.NO_CUSTOMER]
    with transaction.atomic():
        _lock_rule(account, rule.pk)
        params = {"account": account.pk, "rule": rule.pk, "now": timezone.now(), "actor": actor, "spared": spared}
        cur = raw_cursor()
        cur.execute(statements.take(only_customers=False, spared=True), params)
        _audit_refs(rule, account=account, actor=actor, action=RULE_CUSTOMERS_TAKE, count=cur.rowcount)
        return cur.rowcount


def rule_customers_take_departed(
    *, account: Account, rule: DiscountRule, given_by: str, keep: Sequence[str], actor: str
) -> int:
    """Take the rule back from customers it was given to by `given_by` (a segment push) who are not in `keep`.

    Refs given any other way are never touched. One UPDATE; returns how many refs were taken.
    """
    with transaction.atomic():
        _lock_rule(account, rule.pk)
        cur = raw_cursor()
        cur.execute(
            statements.TAKE_DEPARTED,
            {
                "account": account.pk,
                "rule": rule.pk,
                "now": timezone.now(),
                "actor": actor,
                "given_by": given_by,
                "keep": list(keep),
            },
        )
        _audit_refs(rule, account=account, actor=actor, action=RULE_CUSTOMERS_TAKE, count=cur.rowcount)
        return cur.rowcount


def rule_customers_take_given(
    *, account: Account, rule: DiscountRule, given_by: str, customer_ids: Sequence[str], actor: str
) -> int:
    """Take the rule back from those of `customer_ids` it was given to by `given_by` (a segment push: the members
    who left). Refs given any other way are never touched. One UPDATE; returns how many refs were taken."""
    with transaction.atomic():
        _lock_rule(account, rule.pk)
        if not customer_ids:
            return 0
        cur = raw_cursor()
        cur.execute(
            statements.TAKE_GIVEN,
            {
                "account": account.pk,
                "rule": rule.pk,
                "now": timezone.now(),
                "actor": actor,
                "given_by": given_by,
                "customers": list(customer_ids),
            },
        )
        _audit_refs(rule, account=account, actor=actor, action=RULE_CUSTOMERS_TAKE, count=cur.rowcount)
        return cur.rowcount


@dataclass(frozen=True)
class MembersGiven:
    """What `rule_members_give` did: whether it saw the version whole (False: a newer publish deleted it meanwhile,
    and nothing was written), refs given and taken."""

    whole: bool
    given: int
    taken: int


def rule_members_give(
    *,
    account: Account,
    rule: DiscountRule,
    segment: Segment,
    version: int,
    members: int,
    given_by: str,
    take_departed: bool,
    actor: str,
) -> MembersGiven:
    """Give the rule to the `members` members of the segment's version `version` who hold no live ref of it and, with
    `take_departed`, take back what `given_by` gave to customers who are not members: one statement
    (discounts.sql.give_members), set-based in PostgreSQL. Idempotent like `rule_customers_give`."""
    with transaction.atomic():
        _lock_rule(account, rule.pk)
        cur = raw_cursor()
        cur.execute(
            statements.give_members(take_departed=take_departed),
            {
                "account": account.pk,
                "rule": rule.pk,
                "segment": segment.pk,
                "version": version,
                "expected": members,
                "now": timezone.now(),
                "actor": actor,
                "given_by": given_by,
                **uuid7_block(members),
            },
        )
        row = cur.fetchone()
        assert row is not None  # a SELECT of three scalars always answers one row
        whole, given, taken = row
        _audit_refs(rule, account=account, actor=actor, action=RULE_CUSTOMERS_GIVE, count=given)
        _audit_refs(rule, account=account, actor=actor, action=RULE_CUSTOMERS_TAKE, count=taken)
        return MembersGiven(whole=whole, given=given, taken=taken)


def _audit_refs(rule: DiscountRule, *, account: Account, actor: str, action: str, count: int) -> None:
    """One event per call that changed refs; it counts customers and never names them (their ids are personal)."""
    if count:
        _audit(rule, account=account, actor=actor, action=action, summary=f"{count} customer refs")
