"""Tenants (accounts), their API clients and staff memberships, and staff refresh tokens."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Now

from loyalty.accounts.scopes import Role

AID_REGEX = r"^[PT]\d{8}$"


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone") from exc


class Account(models.Model):
    id = models.AutoField(primary_key=True)  # int4: every read-model row carries it
    aid = models.CharField(
        "account id",
        max_length=9,
        unique=True,
        validators=[RegexValidator(AID_REGEX, "An account id is T or P followed by 8 digits, e.g. T00000001.")],
        help_text="T = test account, P = production account.",
    )
    name = models.CharField(max_length=200)
    currency = models.CharField(
        max_length=3, default="NOK", validators=[RegexValidator(r"^[A-Z]{3}$", "An ISO 4217 code, e.g. NOK.")]
    )
    timezone = models.CharField(max_length=64, default="Europe/Oslo", validators=[validate_timezone])
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["aid"]
        constraints = [
            models.CheckConstraint(condition=models.Q(aid__regex=AID_REGEX), name="account_aid_format"),
            models.CheckConstraint(condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="account_currency_iso"),
        ]

    def __str__(self) -> str:
        return f"{self.aid} {self.name}"

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def is_test(self) -> bool:
        return self.aid.startswith("T")


class ApiClient(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_clients")
    name = models.CharField(max_length=200)
    client_id = models.CharField(max_length=64, unique=True, editable=False)
    secret_hash = models.CharField(max_length=255, editable=False)
    scopes = ArrayField(models.CharField(max_length=64), default=list)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    created_by = models.CharField(max_length=255, blank=True, default="")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account", "name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return f"{self.name} ({self.client_id})"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(db_default=Now(), editable=False)

    class Meta:
        ordering = ["account", "user"]
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="membership_unique_user_account"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.account.aid}"


class RefreshToken(models.Model):
    """Single-use refresh tokens for staff logins; a reused token revokes its whole family."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    family = models.UUIDField(db_index=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"refresh token of {self.user} ({self.created_at:%Y-%m-%d})"
