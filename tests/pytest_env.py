"""Loaded with `-p` before Django is configured: isolates the test run from a running `make run`.

Tests publish to a queue of their own, so a development worker never eats a test's tasks (and vice versa), and
the embedded PostgreSQL is stopped at the end unless another holder (`make run`) still uses it.
"""

import os
import uuid

os.environ.setdefault("CELERY_QUEUE", f"loyalty-test-{uuid.uuid4().hex[:8]}")
# The deployment the tests talk to is the test client's `http://testserver`, whatever Host a test sends.
os.environ.setdefault("JWT_ISSUER", "http://testserver")


def pytest_configure(config):
    from pathlib import Path

    from django.conf import settings

    if getattr(settings, "LOYALTY_EMBEDDED_DATABASE", False):
        from loyalty.embedded_postgres import server as embedded

        embedded.hold(Path(settings.LOYALTY_DATA_DIR))


def pytest_unconfigure(config):
    from pathlib import Path

    from django.conf import settings

    if getattr(settings, "LOYALTY_EMBEDDED_DATABASE", False):
        from django.db import connections

        from loyalty.embedded_postgres import server as embedded

        connections.close_all()
        embedded.release(Path(settings.LOYALTY_DATA_DIR))
