"""Celery entry points for pushes: take ids, call one service."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from discounts.pushes import push_execute, pushes_sweep, segment_published
from discounts.services.simulations import simulation_run


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
