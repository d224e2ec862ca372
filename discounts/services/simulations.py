"""Dry runs: queue one (validated, nothing else written) and run it in a worker with progress (discounts/simulation.py
is the replay). The live usage ledger is never read or written: every counter is the replay's own."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from discounts import documents
from discounts.errors import DiscountValidationError
from discounts.models import DiscountRef, DiscountRule, Simulation
from discounts.simulation import Replay, simulated_document
from loyalty.accounts.models import Account
from loyalty.core.jobs import enqueue_on_commit
from receipts.readmodels import queries as receipts
from segments import selectors as segments
from segments.selectors import SegmentNotFound

MAX_DAYS = 366
PROGRESS_EVERY = 5000  # receipts between two progress writes


def simulation_start(
    *,
    account: Account,
    rule: DiscountRule | None,
    document: Any,
    period_from: datetime,
    period_to: datetime,
    customers: Any,
    actor: str,
) -> Simulation:
    """Queue a dry run of `rule` (its stored document, or `document` instead: a draft or an edit not saved). Raises
    DiscountValidationError naming every bad field; the worker does the rest after commit."""
    if document is None and rule is not None:
        document = rule.document
    problems = _problems(account=account, rule=rule, document=document, customers=customers)
    if period_to <= period_from:
        problems.append(("to", "must be after from"))
    elif period_to - period_from > timedelta(days=MAX_DAYS):
        problems.append(("to", f"the period can be at most {MAX_DAYS} days"))
    if problems:
        raise DiscountValidationError(f"The simulation has {len(problems)} problem(s).", problems)
    with transaction.atomic():
        simulation = Simulation.objects.create(
            account=account,
            rule=rule,
            document=documents.strip_server_fields(document),
            period_from=period_from,
            period_to=period_to,
            customers=customers,
            created_by=actor,
        )
        enqueue_on_commit("discounts.simulate", args=[str(simulation.id)])
    return simulation


def _problems(*, account: Account, rule: DiscountRule | None, document: Any, customers: Any) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(document, dict):
        return [("rule", "must be a discount rule object")]
    problems += [
        (f"rule.{path}" if path else "rule", message)
        for path, message in documents.validate_discount(documents.strip_server_fields(document))
    ]
    if customers == "given" and rule is None:
        problems.append(("customers", "a draft rule is given to nobody yet: use * or segment:<id>"))
    elif customers not in ("*", "given"):
        if not isinstance(customers, str) or not customers.startswith("segment:"):
            problems.append(("customers", 'must be "*", "given" or "segment:<segment id>"'))
        else:
            try:
                segments.segment_get(account=account, segment_id=customers.removeprefix("segment:"))
            except SegmentNotFound:
                problems.append(("customers", "no such segment in this account"))
    return problems


def _customer_pks(simulation: Simulation) -> QuerySet | None:
    """Whose receipts are replayed: None for every customer."""
    account = simulation.account
    if simulation.customers == "*":
        return None
    if simulation.customers == "given":
        holders = DiscountRef.objects.filter(account=account, rule_id=simulation.rule_id, deleted_at__isnull=True)
        if holders.filter(customer_id=documents.ANY_CUSTOMER).exists():
            return None
        return (
            receipts.customers_for_account(account=account)
            .filter(customer_id__in=holders.values("customer_id"))
            .values("pk")
        )
    segment = segments.segment_get(account=account, segment_id=simulation.customers.removeprefix("segment:"))
    return segments.segment_members(segment=segment).values("pk")


def simulation_run(*, simulation_id: str | uuid.UUID) -> Simulation | None:
    simulation = Simulation.objects.select_related("account").filter(pk=simulation_id).first()
    if simulation is None or simulation.status not in (Simulation.Status.QUEUED, Simulation.Status.RUNNING):
        return simulation
    started = time.monotonic()
    account = simulation.account
    start, end = simulation.period_from, simulation.period_to
    who = _customer_pks(simulation)
    total = receipts.purchases_for_replay_count(account=account, start=start, end=end, customer_pks=who)
    _update(simulation, status=Simulation.Status.RUNNING, started_at=timezone.now(), receipts_total=total)
    try:
        result = _replay(simulation, who, total)
    except Exception as exc:
        _update(simulation, status=Simulation.Status.FAILED, error_message=str(exc)[:2000], **_finished(started))
        raise
    _update(simulation, status=Simulation.Status.SUCCEEDED, progress=100, result=result, **_finished(started))
    simulation.refresh_from_db()
    return simulation


def _replay(simulation: Simulation, who: QuerySet | None, total: int) -> dict[str, Any]:
    start, end = simulation.period_from, simulation.period_to
    replay = Replay(
        rule_id=str(simulation.rule_id or simulation.id),
        rule_type=documents.parse_rule(simulated_document(simulation.document, start=start, end=end)).type,
        rule_created_at=start,
        document=simulated_document(simulation.document, start=start, end=end),
        given_at=start,
        tz=simulation.account.tz,
    )
    stream = receipts.purchases_for_replay(account=simulation.account, start=start, end=end, customer_pks=who)
    for done, (customer_id, document) in enumerate(stream, start=1):
        replay.replay(document, customer_id)
        if done % PROGRESS_EVERY == 0:
            _update(simulation, receipts_done=done, progress=min(99, done * 100 // max(total, 1)))
    return {**replay.result(), "receipts_total": total}


def _finished(started: float) -> dict[str, Any]:
    return {"finished_at": timezone.now(), "duration_ms": int((time.monotonic() - started) * 1000)}


def _update(simulation: Simulation, **fields: Any) -> None:
    Simulation.objects.filter(pk=simulation.pk).update(**fields)
