"""Celery entry points for pushes, usage from receipts, automations and dry runs: take ids, call one service."""

from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from discounts.pushes import push_execute, pushes_sweep, segment_published
from discounts.services.automations import automation_events_process, automations_sweep
from discounts.services.deliveries import delivery_perform
from discounts.services.events import receipts_to_events
from discounts.services.simulations import simulation_run
from discounts.services.usage import receipts_arrived, receipts_sweep


def _retrying_on_database_errors(name: str, *, backoff: int, retries: int, soft: int, hard: int) -> Any:
    """A task acknowledged late, retried with backoff when the database is briefly away, and time-limited."""
    return shared_task(
        name=name,
        acks_late=True,
        autoretry_for=(OperationalError, InterfaceError),
        retry_backoff=backoff,
        max_retries=retries,
        soft_time_limit=soft,
        time_limit=hard,
    )


@_retrying_on_database_errors("discounts.push", backoff=5, retries=3, soft=9 * 60, hard=10 * 60)
def push(push_id: str) -> None:
    push_execute(push_id=push_id)


@shared_task(name="discounts.segment_published", acks_late=True, soft_time_limit=50, time_limit=60)
def on_segment_published(segment_id: int) -> None:
    segment_published(segment_id=segment_id)


@shared_task(name="discounts.sweep", acks_late=True, soft_time_limit=50, time_limit=60)
def sweep() -> dict[str, int]:
    return pushes_sweep()


@_retrying_on_database_errors("discounts.receipts_arrived", backoff=2, retries=5, soft=50, hard=60)
def on_receipts_arrived(account_id: int) -> int:
    return receipts_arrived(account_id=account_id)


@shared_task(name="discounts.usage_sweep", acks_late=True, soft_time_limit=50, time_limit=60)
def usage_sweep() -> int:
    return receipts_sweep()


# --- automations (discounts/services/events.py, automations.py, deliveries.py) -------------------------------------

HTTP_ATTEMPTS = 5


@_retrying_on_database_errors("discounts.receipts_to_events", backoff=2, retries=3, soft=110, hard=120)
def receipts_events(account_id: int) -> int:
    return receipts_to_events(account_id=account_id)


@_retrying_on_database_errors("discounts.automation_events", backoff=2, retries=3, soft=290, hard=300)
def automation_events(account_id: int) -> int:
    return automation_events_process(account_id=account_id)


@shared_task(
    name="discounts.automation_deliver",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,  # a killed worker's delivery goes back to the queue; the delivery row keeps it once
    max_retries=HTTP_ATTEMPTS - 1,
    soft_time_limit=150,
    time_limit=180,
)
def automation_deliver(self, delivery_id: int) -> None:
    if delivery_perform(delivery_id=delivery_id, last_attempt=self.request.retries >= self.max_retries):
        raise self.retry(countdown=settings.AUTOMATIONS_HTTP_RETRY_BASE * 2**self.request.retries)


@shared_task(name="discounts.automations_sweep", acks_late=True, soft_time_limit=50, time_limit=60)
def sweep_automations() -> dict[str, int]:
    return automations_sweep()


@_retrying_on_database_errors("discounts.simulate", backoff=5, retries=3, soft=25 * 60, hard=30 * 60)
def simulate(simulation_id: str) -> None:
    simulation_run(simulation_id=simulation_id)
