"""`make bench` leaves nothing running: the embedded PostgreSQL its steps start is stopped when they end, unless
another holder (`make run`, a test run) still uses it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loyalty.embedded_postgres import server as embedded
from tests.bench.harness import ROOT

# What the suite and the load test do around their work: hold the server, reach it the way their first step does
# (admin_connection, which starts it when it is down), then return.
BENCH_STEP = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
import django
django.setup()
from tests.bench.dataset import admin_connection
from tests.bench.harness import embedded_server_held
with embedded_server_held():
    with admin_connection() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
"""


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    yield path
    embedded.remove(path)


def postmasters_of(pgdata: Path) -> list[int]:
    """Running PostgreSQL server processes started on this data folder."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"postgres") and str(pgdata).encode() in argv:
            found.append(int(proc.name))
    return found


def run_bench_step(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"LOYALTY_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-c", BENCH_STEP], cwd=ROOT, env=env, check=True, timeout=300)


def test_a_bench_step_stops_the_embedded_server_it_started(data_dir):
    pgdata = (data_dir / "postgres").resolve()

    run_bench_step(data_dir)

    assert (pgdata / "PG_VERSION").exists()  # it did start (and initialise) one
    assert postmasters_of(pgdata) == []
    assert not (pgdata / "postmaster.pid").exists()


def test_a_bench_step_leaves_the_server_to_another_holder(data_dir):
    # given a server someone else holds (this process, standing in for `make run`)
    embedded.hold(data_dir)
    pgdata = embedded.server_for(data_dir).pgdata
    assert postmasters_of(pgdata)

    run_bench_step(data_dir)

    assert postmasters_of(pgdata)
    assert embedded.release(data_dir) is True
    assert postmasters_of(pgdata) == []
