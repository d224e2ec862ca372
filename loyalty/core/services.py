"""Platform writes: worker pings, the audit log, and the health probe."""

from __future__ import annotations

from uuid import UUID

from django.db import connection, models

from loyalty.celery import app
from loyalty.core.models import AuditEvent, WorkerPing


def worker_ping_record(*, token: UUID, hostname: str) -> WorkerPing:
    obj, _ = WorkerPing.objects.get_or_create(token=token, defaults={"hostname": hostname})
    return obj


def health_check() -> dict[str, str]:
    """Probe the database and the broker; each value is "ok" or a short reason."""
    status: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        status["database"] = "ok"
    except Exception as exc:  # any failure means "down"; the message says why
        status["database"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        status["broker"] = "ok"
    except Exception as exc:
        status["broker"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
    return status


def audit_record(
    *,
    account: models.Model | None,
    actor: str,
    action: str,
    object_type: str = "",
    object_id: str = "",
    summary: str = "",
) -> None:
    """Record a change (call it inside the write's transaction). `account` is the accounts.Account it happened in
    (the platform's core sits below accounts, so it is taken as any model). Summaries name things, never personal
    data or secrets."""
    AuditEvent.objects.create(
        account_id=account.pk if account is not None else None,
        actor=actor[:255],
        action=action[:64],
        object_type=object_type[:64],
        object_id=str(object_id)[:64],
        summary=summary[:1000],
    )
