from uuid import UUID

from celery import shared_task

from loyalty.core.services import worker_ping_record


@shared_task(name="core.ping", acks_late=True, soft_time_limit=20, time_limit=30)
def ping(token: str) -> None:
    worker_ping_record(token=UUID(token), hostname=ping.request.hostname or "unknown")
