"""Shared fixtures. The database is always a real PostgreSQL and the broker a real one (see README)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from tests.helpers import WorkerProcess, queue_purge, wait_until


@pytest.fixture(scope="module")
def module_worker(request, django_db_setup, tmp_path_factory) -> Iterator[WorkerProcess]:
    """One real worker per test module, on a queue of the module's own: booting a worker is the slow part."""
    from django.db import connection

    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-{request.module.__name__.rsplit('.', 1)[-1]}"
    worker = WorkerProcess(
        connection.settings_dict["NAME"], tmp_path_factory.mktemp("worker") / "worker.log", queue=queue
    )
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def celery_worker(module_worker: WorkerProcess) -> Iterator[WorkerProcess]:
    """The module's worker, fed with this test's tasks. Only while a test asks for it do tasks go to the worker's
    queue: the module's other tests keep publishing where no worker listens, so it never races them for theirs."""
    from loyalty.celery import app

    default = app.conf.task_default_queue
    app.conf.task_default_queue = module_worker.queue
    try:
        yield module_worker
    finally:
        app.conf.task_default_queue = default
        # what this test left queued points at rows the next test will not have; what the worker is running still
        # writes to them: let it finish before the test's tables are emptied
        queue_purge(module_worker.queue)
        module_worker.wait_idle()


@pytest.fixture
def wait_for() -> Callable[..., object]:
    """Poll a condition (the worker is another process) until it holds or the timeout passes."""
    return wait_until


# --- accounts and tokens ----------------------------------------------------------------------------------------


@pytest.fixture
def account(db):
    from tests.accounts.factories import AccountFactory

    return AccountFactory(aid="T00000001", name="Demo Shop")


@pytest.fixture
def other_account(db):
    from tests.accounts.factories import AccountFactory

    return AccountFactory(aid="T00000099", name="Someone Else")


@pytest.fixture
def make_client_token(db):
    """A real, signed access token for a real API client of `account` with the given scopes."""
    from loyalty.accounts import tokens
    from loyalty.accounts.services import api_client_create

    def _make(account, scopes: list[str]) -> str:
        # clients cannot hold user scopes; a token claiming them anyway (as one minted before the rule could)
        # shows that authentication ignores them
        held = [scope for scope in scopes if not scope.startswith("user:")]
        client, _ = api_client_create(account=account, name="test", scopes=held or ["read:receipts"])
        token, _ = tokens.client_access_token(aid=account.aid, client_id=client.client_id, scopes=scopes)
        return token

    return _make


@pytest.fixture
def make_customer_token(db):
    """A real customer token for `customer_id` in `account`, minted for a real client, with `user:*` scopes."""
    from loyalty.accounts import tokens
    from loyalty.accounts.services import api_client_create

    def _make(account, customer_id: str, scopes: list[str]) -> str:
        client, _ = api_client_create(account=account, name="member app", scopes=["admin:receipts", "admin:discounts"])
        return tokens.customer_access_token(
            aid=account.aid, client_id=client.client_id, customer_id=customer_id, scopes=scopes, ttl=900
        )

    return _make


@pytest.fixture
def api_for(make_client_token):
    """A DRF test client authenticated as an API client of `account` with `scopes` (default: all of them)."""
    from rest_framework.test import APIClient

    from loyalty.accounts.scopes import SCOPES

    def _make(account, scopes: list[str] | None = None) -> APIClient:
        client = APIClient()
        token = make_client_token(account, list(SCOPES) if scopes is None else scopes)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return _make


@pytest.fixture
def api(api_for, account):
    return api_for(account)
