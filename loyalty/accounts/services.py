"""Writes for accounts, API clients, staff users and their tokens."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from loyalty.accounts import tokens
from loyalty.accounts.models import Account, ApiClient, Membership, RefreshToken
from loyalty.accounts.scopes import USER_SCOPE_GRANTORS, USER_SCOPES, Role, unknown_scopes
from loyalty.core.errors import Forbidden, ValidationFailed
from loyalty.core.services import audit_record

# Used only to keep the time of a failed lookup equal to a real password check.
_DUMMY_HASH = make_password("never-a-real-secret")
_last_touch: dict[str, float] = {}
TOUCH_INTERVAL_SECONDS = 60
NAME_MAX_LENGTH = 200  # ApiClient.name


def account_upsert(*, aid: str, name: str, currency: str | None = None, timezone_name: str | None = None) -> Account:
    """Create the account or update the given fields; idempotent."""
    account = Account.objects.filter(aid=aid).first() or Account(aid=aid)
    account.name = name
    if currency:
        account.currency = currency.upper()
    if timezone_name:
        account.timezone = timezone_name
    account.full_clean(validate_unique=False)
    account.save()
    return account


def account_save(*, account: Account) -> Account:
    """Store an account edited field by field (the admin's form has validated it)."""
    account.save()
    return account


def account_delete(*, account: Account) -> None:
    """Delete an account and everything in it (its rows cascade in the database)."""
    account.delete()


def _scope_problems(scopes: list[str]) -> str | None:
    unknown = unknown_scopes(scopes)
    if unknown:
        return f"Unknown scopes: {', '.join(unknown)}"
    user_scopes = sorted(set(scopes) & USER_SCOPES)
    if user_scopes:
        return (
            f"API clients cannot hold {', '.join(user_scopes)}: user scopes belong to one customer; "
            "mint customer tokens with POST /v1/accounts/{aid}/auth/customer-token instead."
        )
    if not scopes:
        return "An API client needs at least one scope."
    return None


def api_client_create(*, account: Account, name: str, scopes: list[str], created_by: str = "") -> tuple[ApiClient, str]:
    """Returns the client and its secret; only the secret's hash is stored, so this is the one chance to see it."""
    problem = _scope_problems(scopes)
    if problem:
        raise ValidationFailed.for_field("scopes", problem)
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValidationFailed.for_field("name", "A name of 1 to 200 characters is needed.")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        client = ApiClient.objects.create(
            account=account,
            name=name,
            client_id=str(uuid.uuid4()),
            secret_hash=make_password(secret),
            scopes=sorted(set(scopes)),
            created_by=created_by,
        )
        audit_record(
            account=account,
            actor=created_by or "system",
            action="api_client.create",
            object_type="api_client",
            object_id=client.client_id,
            summary=f"{name}: {' '.join(client.scopes)}",
        )
    return client, secret


def api_client_revoke(*, client: ApiClient, actor: str = "") -> None:
    """Deactivate the client: authentication checks `active` on every request, so its tokens stop at once."""
    with transaction.atomic():
        ApiClient.objects.filter(pk=client.pk).update(active=False, revoked_at=timezone.now())
        audit_record(
            account=client.account,
            actor=actor or "system",
            action="api_client.revoke",
            object_type="api_client",
            object_id=client.client_id,
            summary=client.name,
        )


def api_client_save(*, client: ApiClient) -> ApiClient:
    """Store a client's name and `active` (an inactive client's tokens stop working at once)."""
    client.save()
    return client


def api_client_delete(*, client: ApiClient) -> None:
    client.delete()


def membership_save(*, membership: Membership) -> Membership:
    membership.save()
    return membership


def membership_delete(*, membership: Membership) -> None:
    membership.delete()


def api_client_authenticate(*, aid: str, client_id: str, secret: str) -> ApiClient | None:
    client = ApiClient.objects.filter(client_id=client_id, account__aid=aid).select_related("account").first()
    if client is None:
        check_password(secret, _DUMMY_HASH)
        return None
    if not check_password(secret, client.secret_hash) or not client.active:
        return None
    return client


def api_client_touch(*, client_id: str, now: float) -> None:
    """Record `last_used_at` at most once a minute per client: the process remembers its last write, and the
    database's own value stops other processes from writing more often (no write on every request)."""
    if now - _last_touch.get(client_id, float("-inf")) < TOUCH_INTERVAL_SECONDS:
        return
    _last_touch[client_id] = now
    stamp = timezone.now()
    ApiClient.objects.filter(client_id=client_id).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stamp - timedelta(seconds=TOUCH_INTERVAL_SECONDS))
    ).update(last_used_at=stamp)


def client_token_issue(*, client: ApiClient) -> tuple[str, int]:
    token, ttl = tokens.client_access_token(aid=client.account.aid, client_id=client.client_id, scopes=client.scopes)
    api_client_touch(client_id=client.client_id, now=time.monotonic())
    return token, ttl


def customer_token_issue(
    *, aid: str, client_id: str | None, held_scopes: frozenset[str], customer_id: str, scopes: list[str], ttl: int
) -> str:
    """A short-lived token acting for one customer. Each `user:*` scope is granted only by a client holding the
    account-wide scope of the same API (`USER_SCOPE_GRANTORS`); staff tokens do not mint (a customer token must
    name a client whose revocation ends it)."""
    if client_id is None:
        raise Forbidden("Only API clients mint customer tokens.")
    for scope in sorted(set(scopes)):
        grantor = USER_SCOPE_GRANTORS.get(scope)
        if grantor is None:
            raise ValidationFailed.for_field("scopes", f"{scope} is not a user scope.")
        if grantor not in held_scopes:
            raise Forbidden(f"Granting {scope} requires the scope {grantor}.")
    return tokens.customer_access_token(
        aid=aid, client_id=client_id, customer_id=customer_id, scopes=sorted(set(scopes)), ttl=ttl
    )


def staff_user_upsert(*, account: Account, username: str, role: str, password: str | None = None):
    """Create (or update the role of) a staff user in an account. Returns (user, generated password or None)."""
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}")
    User = get_user_model()
    generated = None
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is None:
            generated = password or secrets.token_urlsafe(12)
            user = User(username=username, is_staff=True)
            user.set_password(generated)
            user.save()
            if password:
                generated = None
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
        Membership.objects.update_or_create(user=user, account=account, defaults={"role": role})
    return user, generated


@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str
    expires_in: int


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _pair(user, family: uuid.UUID) -> TokenPair:
    raw = secrets.token_urlsafe(48)
    RefreshToken.objects.create(
        user=user,
        token_hash=_hash(raw),
        family=family,
        expires_at=timezone.now() + timedelta(seconds=settings.REFRESH_TOKEN_TTL_SECONDS),
    )
    token, ttl = tokens.staff_access_token(user_id=user.pk, username=user.get_username())
    return TokenPair(token=token, refresh_token=raw, expires_in=ttl)


def staff_login(*, username: str, password: str) -> TokenPair | None:
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        return None
    if not user.is_superuser and not Membership.objects.filter(user=user).exists():
        return None
    return _pair(user, uuid.uuid4())


def staff_token_refresh(*, refresh_token: str) -> TokenPair | None:
    """Single use: the presented token is spent; presenting a spent token revokes its whole family."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            RefreshToken.objects.select_for_update()
            .select_related("user")
            .filter(token_hash=_hash(refresh_token))
            .first()
        )
        if row is None:
            return None
        if row.used_at or row.revoked_at:
            RefreshToken.objects.filter(family=row.family, revoked_at__isnull=True).update(revoked_at=now)
            return None
        if row.expires_at <= now or not row.user.is_active:
            return None
        row.used_at = now
        row.save(update_fields=["used_at"])
        return _pair(row.user, row.family)


def staff_refresh_tokens_revoke(*, user: User) -> int:
    """Revoke every refresh token the user still holds (signing out of the back-office ends the API sessions too).
    Access tokens already issued run out on their own (minutes). Returns how many were revoked."""
    return RefreshToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
