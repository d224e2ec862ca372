"""Settings parsing: defaults, URLs, and the production refusal."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loyalty.config import ConfigError, load, parse_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_use_embedded_services_and_persist_a_dev_secret(tmp_path):
    # given an empty environment
    env = {"LOYALTY_DATA_DIR": str(tmp_path / "data")}

    # when loading twice
    first = load(env, base_dir=tmp_path)
    second = load(env, base_dir=tmp_path)

    # then development defaults apply and the generated secret key is kept in the data folder
    assert first.debug is True
    assert first.embedded_database and first.database["ENGINE"] == "loyalty.embedded_postgres"
    assert first.database["HOST"].startswith(str(tmp_path / "data"))
    assert first.embedded_broker and first.broker_url == "filesystem://localhost/"
    assert first.broker_transport_options["data_folder_in"].startswith(str(tmp_path / "data"))
    assert first.time_zone == "UTC"
    assert "127.0.0.1" in first.allowed_hosts
    assert len(first.secret_key) >= 50
    assert second.secret_key == first.secret_key
    assert (tmp_path / "data" / "secret_key").read_text() == first.secret_key


def test_data_dir_defaults_to_dot_data_under_the_checkout(tmp_path):
    config = load({}, base_dir=tmp_path)
    assert config.data_dir == tmp_path / ".data"


def test_database_url_is_parsed_into_django_settings():
    db = parse_database_url("postgresql://app:s%40cret@db.internal:6543/loyalty?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "app",
        "s@cret",
        "db.internal",
        "6543",
        "loyalty",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_database_url_with_socket_host():
    db = parse_database_url("postgresql://postgres@/loyalty?host=/run/postgresql")
    assert db["HOST"] == "/run/postgresql" and db["OPTIONS"] == {}


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "postgresql://u@h:5432/", "sqlite:///x.db"], ids=["mysql", "no-name", "sqlite"]
)
def test_bad_database_urls_are_refused(url, tmp_path):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load({"DATABASE_URL": url, "LOYALTY_DATA_DIR": str(tmp_path)}, base_dir=tmp_path)


@pytest.mark.parametrize("broker", ["redis://127.0.0.1:6379/0", "amqp://guest:guest@127.0.0.1:5672//"])
def test_broker_url_from_environment(broker, tmp_path):
    config = load({"CELERY_BROKER_URL": broker, "LOYALTY_DATA_DIR": str(tmp_path)}, base_dir=tmp_path)
    assert config.broker_url == broker and not config.embedded_broker


def test_unknown_broker_scheme_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="CELERY_BROKER_URL"):
        load({"CELERY_BROKER_URL": "sqs://x", "LOYALTY_DATA_DIR": str(tmp_path)}, base_dir=tmp_path)


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 60,
    "ALLOWED_HOSTS": "loyalty.example.com",
    "DATABASE_URL": "postgresql://app@db/loyalty",
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"])
def test_production_refuses_to_start_without_required_settings(missing, tmp_path):
    env = {k: v for k, v in PRODUCTION.items() if k != missing} | {"LOYALTY_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match=f"^{missing} must be set when DEBUG is off"):
        load(env, base_dir=tmp_path)
    assert not (tmp_path / "secret_key").exists()


def test_production_settings_are_accepted_when_complete(tmp_path):
    config = load(PRODUCTION | {"LOYALTY_DATA_DIR": str(tmp_path)}, base_dir=tmp_path)
    assert config.debug is False
    assert config.allowed_hosts == ["loyalty.example.com"]
    assert config.database["HOST"] == "db"


@pytest.mark.parametrize(
    ("env", "name"),
    [({"DEBUG": "maybe"}, "DEBUG"), ({"TIME_ZONE": "Mars/Olympus"}, "TIME_ZONE")],
)
def test_malformed_values_name_the_variable(env, name, tmp_path):
    with pytest.raises(ConfigError, match=name):
        load(env | {"LOYALTY_DATA_DIR": str(tmp_path)}, base_dir=tmp_path)


def test_django_refuses_to_start_in_production_with_a_one_line_message(tmp_path):
    # given production mode without a database URL
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS"}}
    env.update({"DEBUG": "0", "SECRET_KEY": "k" * 60, "ALLOWED_HOSTS": "example.com"})

    # when manage.py starts
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    # then it exits with one line naming the missing variable
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "loyalty: configuration error: DATABASE_URL must be set when DEBUG is off (production)"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ["*"]),
        ("", ["*"]),
        ("*", ["*"]),
        ("https://shop.example", ["https://shop.example"]),
        (" https://shop.example/ , http://localhost:3000", ["https://shop.example", "http://localhost:3000"]),
    ],
)
def test_cors_public_origins(raw, expected, tmp_path):
    env = {"LOYALTY_DATA_DIR": str(tmp_path)} | ({} if raw is None else {"CORS_PUBLIC_ORIGINS": raw})
    assert load(env, base_dir=tmp_path).cors_public_origins == expected


@pytest.mark.parametrize("raw", ["shop.example", "https://shop.example/path", "ftp://shop.example", "*,https://a.b"])
def test_malformed_cors_public_origins_name_the_variable(raw, tmp_path):
    with pytest.raises(ConfigError, match="CORS_PUBLIC_ORIGINS"):
        load({"LOYALTY_DATA_DIR": str(tmp_path), "CORS_PUBLIC_ORIGINS": raw}, base_dir=tmp_path)


def test_a_deployment_hashes_secrets_with_argon2_and_the_tests_still_verify_such_hashes():
    # the test run puts a fast hasher first (tests/pytest_env.py); the settings module is what a deployment uses
    from django.contrib.auth.hashers import Argon2PasswordHasher, check_password

    from loyalty import settings as deployed

    assert deployed.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    hasher = Argon2PasswordHasher()
    encoded = hasher.encode("a client secret", hasher.salt())
    assert check_password("a client secret", encoded)
    assert not check_password("another secret", encoded)
