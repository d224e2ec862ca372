"""Production settings, security headers, the audit log, and logs that never carry secrets or personal data."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from loyalty.accounts.services import api_client_create, staff_user_upsert
from loyalty.core.models import AuditEvent
from receipts.services.tokens import receipt_token_issue
from tests.receipts.factories import receipt

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_production_settings():
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "CELERY_", "DJANGO_ALLOW_ASYNC_UNSAFE"))
    } | {
        "DEBUG": "false",
        "SECRET_KEY": "p" * 20 + "x7Kq!9zL#mR2vT5wY8aB" + "c" * 20,
        "ALLOWED_HOSTS": "loyalty.example.com",
        "DATABASE_URL": "postgresql://app@db.internal:5432/loyalty",
        "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_pages_carry_a_csp_without_inline_script_and_the_usual_headers(client):
    response = client.get(reverse("admin:login"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    docs = client.get("/api/docs/")
    assert b"<script>" not in docs.content  # the docs' start-up script is a file


@pytest.mark.django_db
def test_admin_changes_are_audited(client, account):
    user, _ = staff_user_upsert(account=account, username="olga", role="owner", password="pw-Olga-12345")
    client.force_login(user)
    response = client.post(
        reverse("admin:accounts_account_change", args=[account.pk]),
        {"aid": account.aid, "name": "Renamed", "currency": "NOK", "timezone": "Europe/Oslo"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    event = AuditEvent.objects.get()
    assert (event.account, event.actor, event.action, event.object_type) == (
        account,
        "user:olga",
        "admin.change",
        "accounts.Account",
    )


@pytest.mark.django_db
def test_secrets_tokens_and_personal_data_never_reach_the_logs(client, account, api_for, caplog):
    caplog.set_level(logging.DEBUG)
    secrets_seen: list[str] = []

    client_obj, secret = api_client_create(account=account, name="pos", scopes=["admin:receipts", "admin:segments"])
    secrets_seen.append(secret)
    token_response = client.post(
        "/v1/accounts/T00000001/auth/token",
        {"grant_type": "client_credentials", "audience": "http://testserver/v1/accounts/T00000001"},
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic "
        + __import__("base64").b64encode(f"{client_obj.client_id}:{secret}".encode()).decode(),
    )
    access = token_response.json()["access_token"]
    secrets_seen.append(access)
    client.post(  # a failed attempt, which Django logs
        "/v1/accounts/T00000001/auth/token",
        {"grant_type": "x"},
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic "
        + __import__("base64").b64encode(f"{client_obj.client_id}:wrong-{secret}".encode()).decode(),
    )
    api = api_for(account)
    person = {
        "first_name": "Ingrid",
        "last_name": "Privatsen",
        "email": "ingrid.privatsen@example.com",
        "phone_number": "+4791234567",
    }
    secrets_seen += [person["email"], person["phone_number"], "Privatsen"]
    assert (
        api.post(
            "/v1/accounts/T00000001/receipts", [receipt(customer_id="c-ingrid", customer=person)], format="json"
        ).status_code
        == 200
    )
    bad = receipt(customer_id="c-ingrid", customer=person)
    bad["purchase_at"] = "never"
    assert api.post("/v1/accounts/T00000001/receipts", [bad], format="json").status_code == 400
    from datetime import UTC, datetime, timedelta

    receipt_token = receipt_token_issue(
        aid="T00000099",
        receipt_uuid="x",
        receipt_id="x",
        store_id="x",
        customer_id="c-ingrid",
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )
    secrets_seen.append(receipt_token)
    assert api.get(f"/v1/accounts/T00000001/receipts/receipt-token?token={receipt_token}").status_code == 400
    assert (
        api.post(
            "/api/T00000001/segment",
            {
                "segment": {
                    "name": "n",
                    "parts": [
                        {
                            "criteria": [
                                {"type": "customer_list", "customers": [person["email"], person["phone_number"]]}
                            ]
                        }
                    ],
                }
            },
            format="json",
        ).status_code
        == 200
    )
    staff_user_upsert(account=account, username="sven", role="editor", password="pw-Sven-secret-77")
    secrets_seen.append("pw-Sven-secret-77")
    login = client.post(
        "/api/admin/login_check", {"username": "sven", "password": "pw-Sven-secret-77"}, content_type="application/json"
    )
    secrets_seen += [login.json()["token"], login.json()["refresh_token"]]
    client.post(
        "/api/admin/login_check",
        {"username": "sven", "password": "wrong-pw-Sven-secret-77"},
        content_type="application/json",
    )

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert caplog.records, "the flow should have logged something (4xx warnings at least)"
    for value in secrets_seen:
        assert value not in logged, f"{value[:12]}… reached the logs"
