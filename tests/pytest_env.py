"""Loaded with `-p` before Django is configured: isolates the test run from a running `make run`.

Tests publish to a queue of their own, so a development worker never eats a test's tasks (and vice versa), and
the embedded PostgreSQL is stopped at the end unless another holder (`make run`) still uses it.
"""

import os
import uuid

os.environ.setdefault("CELERY_QUEUE", f"loyalty-test-{uuid.uuid4().hex[:8]}")
# The deployment the tests talk to is the test client's `http://testserver`, whatever Host a test sends.
os.environ.setdefault("JWT_ISSUER", "http://testserver")
# Automations' http actions reach the tests' own little servers on 127.0.0.1, and retry quickly.
os.environ.setdefault("AUTOMATIONS_HTTP_ALLOW_PRIVATE", "true")
os.environ.setdefault("AUTOMATIONS_HTTP_RETRY_BASE", "0.2")
os.environ.setdefault("AUTOMATIONS_HTTP_TIMEOUT", "2")
# No test waits for a database lock for minutes: one that would (a session left holding it) fails with an error
# naming the lock instead of hanging. libpq reads PGOPTIONS, so the tests' worker processes inherit it too.
os.environ.setdefault("PGOPTIONS", "-c lock_timeout=120s")


def pytest_configure(config):
    from pathlib import Path

    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers, get_hashers_by_algorithm

    # A deployment hashes API client secrets and passwords with Argon2, slow on purpose (0.1-0.7 s each here); the
    # tests create thousands of clients and users. New hashes use a fast hasher in the tests; Argon2 stays listed,
    # so a hash made before this point (or by a worker process) still verifies.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]
    get_hashers.cache_clear()
    get_hashers_by_algorithm.cache_clear()

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
