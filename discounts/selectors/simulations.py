"""Reads of dry runs (discounts/services/simulations.py runs them)."""

from __future__ import annotations

import uuid
from typing import Any

from discounts.errors import PushNotFound
from discounts.models import DiscountRule, Simulation
from discounts.selectors import iso
from loyalty.accounts.models import Account


class SimulationNotFound(PushNotFound):
    """A simulation that is not this account's (or not there): 404 like any other object."""


def simulation_get(*, account: Account, simulation_id: str | uuid.UUID) -> Simulation:
    try:
        key = uuid.UUID(str(simulation_id))
    except ValueError:
        raise SimulationNotFound() from None
    found = Simulation.objects.filter(account=account, pk=key).first()
    if found is None:
        raise SimulationNotFound()
    return found


def simulations_for_rule(*, account: Account, rule: DiscountRule, limit: int = 5) -> list[Simulation]:
    return list(Simulation.objects.filter(account=account, rule=rule).order_by("-created_at")[:limit])


def simulation_to_api(simulation: Simulation) -> dict[str, Any]:
    return {
        "id": str(simulation.id),
        "rule_id": str(simulation.rule_id) if simulation.rule_id else None,
        "from": iso(simulation.period_from),
        "to": iso(simulation.period_to),
        "customers": simulation.customers,
        "status": simulation.status,
        "progress": simulation.progress,
        "receipts_total": simulation.receipts_total,
        "receipts_done": simulation.receipts_total if simulation.status == "succeeded" else simulation.receipts_done,
        "created_at": iso(simulation.created_at),
        "created_by": simulation.created_by,
        "started_at": iso(simulation.started_at),
        "finished_at": iso(simulation.finished_at),
        "duration_ms": simulation.duration_ms,
        "error": simulation.error_message or None,
        "result": simulation.result,
    }
