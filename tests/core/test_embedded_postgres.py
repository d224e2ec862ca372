"""The embedded PostgreSQL: first start initialises, later starts reuse the data, several users share it."""

import os

import psycopg
import pytest

from loyalty.embedded_postgres import server as embedded


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    yield path
    embedded.remove(path)


def _query(server, sql, dbname="postgres"):
    with psycopg.connect(host=server.host, user=embedded.SUPERUSER, dbname=dbname, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if cursor.description else None


def test_start_initialises_then_reuses_the_running_server(data_dir):
    # when started for the first time
    server, started = embedded.ensure_running(data_dir)

    # then it is a real PostgreSQL 16 on a unix socket in the data folder, tuned as the design notes say
    assert started is True
    assert (data_dir / "postgres" / "PG_VERSION").read_text().strip() == "16"
    assert _query(server, "SHOW server_version_num")[0][0].startswith("16")
    assert _query(server, "SHOW jit") == [("off",)]
    assert _query(server, "SHOW listen_addresses") == [("",)]

    # and a second caller (another process in real life) shares it instead of starting another
    again, started_again = embedded.ensure_running(data_dir)
    assert started_again is False and again == server


def test_data_survives_a_restart(data_dir):
    server, _ = embedded.ensure_running(data_dir)
    embedded.ensure_database(server, "keepme")
    _query(server, "CREATE TABLE kept (v int)", dbname="keepme")
    _query(server, "INSERT INTO kept VALUES (42)", dbname="keepme")

    embedded.stop(data_dir)
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    server, started = embedded.ensure_running(data_dir)

    assert started is True
    assert _query(server, "SELECT v FROM kept", dbname="keepme") == [(42,)]


def test_a_holder_stops_it_only_when_no_other_holder_is_alive(data_dir):
    assert embedded.hold(data_dir) is True
    # another live holder (our parent process, which outlives this test) and a dead one (pid 2**22 + 1 is unused)
    holders = embedded._holders_dir(data_dir)
    (holders / str(os.getppid())).touch()
    (holders / str(2**22 + 1)).touch()

    assert embedded.release(data_dir) is False
    assert embedded._is_running(embedded.server_for(data_dir))
    assert not (holders / str(2**22 + 1)).exists()

    (holders / str(os.getppid())).unlink()
    embedded.hold(data_dir)
    assert embedded.release(data_dir) is True
    assert not embedded._is_running(embedded.server_for(data_dir))


def test_long_data_paths_get_a_short_socket_dir(tmp_path):
    long_dir = tmp_path / ("x" * 120)
    server = embedded.server_for(long_dir)
    assert len(str(server.socket_dir)) < 60
    assert server.pgdata == (long_dir / "postgres").resolve()
