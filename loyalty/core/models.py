from django.db import models


class WorkerPing(models.Model):
    """A row written by a Celery worker on request: proof that a worker is consuming the queue."""

    token = models.UUIDField(unique=True)
    hostname = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class AuditEvent(models.Model):
    """Who changed what in the back-office (pages and admin), and when. Written by loyalty.core.services.audit_record."""

    account = models.ForeignKey("accounts.Account", null=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.CharField(max_length=255)
    action = models.CharField(max_length=64)  # e.g. "segment.update", "admin.change"
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    summary = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["account", "-created_at"], name="audit_account_recent")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type} {self.object_id}"
