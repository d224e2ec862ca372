"""Celery entry points for pushes, usage from receipts, automations and dry runs: take ids, call one service."""

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from discounts.pushes import push_execute, pushes_sweep, segment_published
from discounts.services.automations import automation_events_process, automations_sweep
from discounts.services.deliveries import delivery_perform
from discounts.services.events import receipts_to_events
from discounts.services.simulations import simulation_run
from discounts.services.usage import receipts_arrived, receipts_sweep


@shared_task(
    name="discounts.push",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=9 * 60,
    time_limit=10 * 60,
)
def push(push_id: str) -> None:
    push_execute(push_id=push_id)


@shared_task(name="discounts.segment_published", acks_late=True, soft_time_limit=50, time_limit=60)
def on_segment_published(segment_id: int) -> None:
    segment_published(segment_id=segment_id)


@shared_task(name="discounts.sweep", acks_late=True, soft_time_limit=50, time_limit=60)
def sweep() -> dict[str, int]:
    return pushes_sweep()


@shared_task(
    name="discounts.receipts_arrived",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    max_retries=5,
    soft_time_limit=50,
    time_limit=60,
)
def on_receipts_arrived(account_id: int) -> int:
    return receipts_arrived(account_id=account_id)


@shared_task(name="discounts.usage_sweep", acks_late=True, soft_time_limit=50, time_limit=60)
def usage_sweep() -> int:
    return receipts_sweep()


# --- automations (discounts/services/events.py, automations.py, deliveries.py) -------------------------------------

HTTP_ATTEMPTS = 5


@shared_task(
    name="discounts.receipts_to_events",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    max_retries=3,
    soft_time_limit=110,
    time_limit=120,
)
def receipts_events(account_id: int) -> int:
    return receipts_to_events(account_id=account_id)


@shared_task(
    name="discounts.automation_events",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    max_retries=3,
    soft_time_limit=290,
    time_limit=300,
)
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


@shared_task(
    name="discounts.simulate",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=3,
    soft_time_limit=25 * 60,
    time_limit=30 * 60,
)
def simulate(simulation_id: str) -> None:
    simulation_run(simulation_id=simulation_id)
