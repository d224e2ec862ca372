"""Writes of discount rules and of their refs. Each function is one transaction; refs are written nowhere else.

Every write to a rule or its refs first locks the rule's row, so giving, taking, updating and deleting one rule
happen one at a time: the update rules' "has it been given?" and giving's "does the customer already hold it?"
cannot race.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from discounts import documents
from discounts.models import DiscountRule
from discounts.selectors import RuleNotFound, rule_was_given
from loyalty.accounts.models import Account
from loyalty.api.swagger import Errors
from loyalty.core.ids import UUID7_BLOCK_SQL, uuid7_block
from receipts.services.read_models import raw_cursor


class DiscountValidationError(Exception):
    """The input breaks the spec's schema; `errors` lists every problem as (path, message). Nothing was written."""

    def __init__(self, message: str, errors: Errors):
        super().__init__(message)
        self.message = message
        self.errors = errors


class RuleUpdateError(Exception):
    """An update the PUT rules forbid (frozen or read-only fields); the message names the rule."""

    def __init__(self, rule: DiscountRule, problems: Errors):
        name = f'"{rule.name}" ({rule.id})' if rule.name else str(rule.id)
        details = "; ".join(f"{path} {message}" for path, message in problems)
        super().__init__(f"Discount rule {name} cannot be updated: {details}.")
        self.message = str(self)
        self.errors = problems


def _invalid(what: str, errors: Errors) -> DiscountValidationError:
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
    return DiscountRule.objects.create(
        account=account,
        **_columns(documents.parse_rule(document)),
        created_at=now,
        created_by=actor,
        updated_at=now,
        updated_by=actor,
    )


def rule_update_validate(
    *, account: Account, rule: DiscountRule, changes: Any, replace: bool = False
) -> documents.ParsedRule:
    """The rule as `changes` would leave it, or DiscountValidationError / RuleUpdateError. Writes nothing.

    `replace=False` is PUT (see documents.apply_changes); `replace=True` takes `changes` as the whole new document.
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
    )
    if problems:
        raise RuleUpdateError(rule, problems)
    return documents.parse_rule(updated)


def rule_update(
    *, account: Account, rule: DiscountRule, changes: Any, actor: str, replace: bool = False
) -> DiscountRule:
    with transaction.atomic():
        locked = _lock_rule(account, rule.pk)
        parsed = rule_update_validate(account=account, rule=locked, changes=changes, replace=replace)
        for name, value in _columns(parsed).items():
            setattr(locked, name, value)
        locked.updated_at = timezone.now()
        locked.updated_by = actor
        locked.save(update_fields=[*COLUMNS, "updated_at", "updated_by"])
    return locked


def rule_delete(*, account: Account, rule: DiscountRule, actor: str) -> DiscountRule:
    """Soft delete: the rule answers 404 from now on, its refs stay (and stay listed by state)."""
    with transaction.atomic():
        locked = _lock_rule(account, rule.pk)
        locked.deleted_at = locked.updated_at = timezone.now()
        locked.deleted_by = locked.updated_by = actor
        locked.save(update_fields=["deleted_at", "deleted_by", "updated_at", "updated_by"])
    return locked


# --- refs -------------------------------------------------------------------------------------------------------

# A customer without an offering constraint gets a ref only when they hold no live ref of the rule at all (the
# NOT EXISTS); with a constraint, only when they hold no live ref with that constraint (the unique index). The
# ON CONFLICT also drops repeats that the same statement inserts.
_GIVE = """
    INSERT INTO discounts_discountref
        (id, account_id, rule_id, customer_id, offering_constraint_id, created_at, created_by)
    SELECT {new_id}, %(account)s::int, %(rule)s::uuid, given.customer_id, %(constraint)s::text,
           %(now)s::timestamptz, %(actor)s::text
    FROM unnest(%(customers)s::text[]) WITH ORDINALITY AS given(customer_id, n)
    {only_new}
    ON CONFLICT DO NOTHING
"""
_ONLY_WITHOUT_LIVE_REF = """
    WHERE NOT EXISTS (
        SELECT 1 FROM discounts_discountref held
        WHERE held.rule_id = %(rule)s::uuid AND held.customer_id = given.customer_id AND held.deleted_at IS NULL)
"""


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
            _GIVE.format(
                new_id=UUID7_BLOCK_SQL.format(n="given.n"),
                only_new="" if offering_constraint_id else _ONLY_WITHOUT_LIVE_REF,
            ),
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
        scope = ""
        if customer_ids is not None:
            if not customer_ids:
                return 0
            params["customers"] = list(dict.fromkeys(customer_ids))
            scope = "AND ref.customer_id = ANY(%(customers)s::text[])"
        cur = raw_cursor()
        cur.execute(
            f"""
            UPDATE discounts_discountref ref SET deleted_at = %(now)s::timestamptz, deleted_by = %(actor)s::text
            WHERE ref.account_id = %(account)s::int AND ref.rule_id = %(rule)s::uuid AND ref.deleted_at IS NULL {scope}
            """,
            params,
        )
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
            """
            UPDATE discounts_discountref ref SET deleted_at = %(now)s::timestamptz, deleted_by = %(actor)s::text
            WHERE ref.account_id = %(account)s::int AND ref.rule_id = %(rule)s::uuid AND ref.deleted_at IS NULL
              AND ref.created_by = %(given_by)s::text AND NOT (ref.customer_id = ANY(%(keep)s::text[]))
            """,
            {
                "account": account.pk,
                "rule": rule.pk,
                "now": timezone.now(),
                "actor": actor,
                "given_by": given_by,
                "keep": list(keep),
            },
        )
        return cur.rowcount
