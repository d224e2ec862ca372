"""/healthz and the worker round trip."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from loyalty.celery import app
from loyalty.core.models import WorkerPing
from loyalty.core.tasks import ping

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_healthz_names_the_broker_when_it_is_down(client):
    # given a broker URL where nothing listens
    original = app.conf.broker_url, app.conf.broker_transport
    app.conf.broker_url, app.conf.broker_transport = "redis://127.0.0.1:9/0", None
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url, app.conf.broker_transport = original

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error:")


def test_healthz_names_the_database_when_it_is_down():
    # given a database URL where nothing listens (a separate process: this one's connection is in use)
    env = os.environ | {"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/nothing"}
    code = (
        "import django, json; django.setup();"
        "from django.test import Client; r = Client().get('/healthz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env | {"DJANGO_SETTINGS_MODULE": "loyalty.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 503
    assert outcome["body"]["database"].startswith("error:")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_task_round_trips_through_a_real_worker_process(celery_worker, wait_for):
    # given a running worker process on the configured broker
    token = uuid.uuid4()

    # when a task is published
    ping.delay(str(token))

    # then the worker (another process) has executed it against the database
    row = wait_for(lambda: WorkerPing.objects.filter(token=token).first(), message="the worker's ping row")
    assert row.hostname.startswith("test-")
    assert celery_worker.process.pid != os.getpid()
