"""Environment parsing for `loyalty.settings`, kept free of Django so it can be tested with plain dicts.

Every variable read here is documented once, in the README's configuration table.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


@dataclass(frozen=True)
class Config:
    debug: bool
    secret_key: str
    allowed_hosts: list[str]
    time_zone: str
    data_dir: Path
    database: dict[str, Any]
    broker_url: str
    broker_transport_options: dict[str, Any] = field(default_factory=dict)
    broker_transport: str | None = None
    task_queue: str = "loyalty"
    embedded_database: bool = False
    embedded_broker: bool = False
    public_base_url: str = ""
    jwt_private_key: str = ""
    jwt_access_ttl: int = 3600
    auth_throttle_rate: str = "30/minute"
    csrf_trusted_origins: list[str] = field(default_factory=list)
    trust_forwarded_proto: bool = False
    ssl_redirect: bool = True
    hsts_seconds: int = 31_536_000


def parse_bool(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def parse_database_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ConfigError(f"DATABASE_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    options = dict(parse_qsl(parts.query))
    host = options.pop("host", None) or (unquote(parts.hostname) if parts.hostname else "")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ConfigError("DATABASE_URL must name a database, e.g. postgresql://user@host:5432/loyalty")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": options,
    }


def _dev_secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load(environ: Mapping[str, str], *, base_dir: Path) -> Config:
    debug = parse_bool("DEBUG", environ.get("DEBUG"), default=True)
    data_dir = Path(environ.get("LOYALTY_DATA_DIR") or base_dir / ".data").expanduser()
    if not data_dir.is_absolute():
        data_dir = (base_dir / data_dir).resolve()

    if not debug:
        for required in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"):
            if not environ.get(required, "").strip():
                raise ConfigError(f"{required} must be set when DEBUG is off (production)")

    secret_key = environ.get("SECRET_KEY", "").strip() or _dev_secret_key(data_dir)
    hosts_raw = environ.get("ALLOWED_HOSTS", "")
    allowed_hosts = [h.strip() for h in hosts_raw.split(",") if h.strip()] or list(LOCAL_HOSTS)

    time_zone = environ.get("TIME_ZONE", "UTC").strip() or "UTC"
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"TIME_ZONE must be an IANA time zone, got {time_zone!r}") from exc

    database_url = environ.get("DATABASE_URL", "").strip()
    if database_url:
        database = parse_database_url(database_url)
        embedded_database = False
    else:
        from loyalty.embedded_postgres.server import SUPERUSER, server_for

        name = "loyalty"
        database = {
            "ENGINE": "loyalty.embedded_postgres",
            "NAME": name,
            "USER": SUPERUSER,
            "PASSWORD": "",
            "HOST": server_for(data_dir).host,
            "PORT": "",
            "OPTIONS": {},
            "LOYALTY_DATA_DIR": str(data_dir),
            "LOYALTY_AUTOCREATE": name,
        }
        embedded_database = True
    # Worker processes started by the test suite must use the test database pytest created.
    if environ.get("LOYALTY_DB_NAME"):
        database["NAME"] = environ["LOYALTY_DB_NAME"]
        database.pop("LOYALTY_AUTOCREATE", None)
    database.update({"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True, "ATOMIC_REQUESTS": False})

    broker_url = environ.get("CELERY_BROKER_URL", "").strip()
    transport_options: dict[str, Any] = {}
    embedded_broker = False
    if not broker_url:
        queue_dir = data_dir / "broker" / "queue"
        control_dir = data_dir / "broker" / "control"
        broker_url = "filesystem://localhost/"
        transport_options = {
            "data_folder_in": str(queue_dir),
            "data_folder_out": str(queue_dir),
            "control_folder": str(control_dir),
            "polling_interval": 0.2,
        }
        embedded_broker = True
    elif not broker_url.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
        raise ConfigError(f"CELERY_BROKER_URL must be a redis:// or amqp:// URL, got {broker_url.split(':')[0]!r}")

    jwt_private_key = environ.get("JWT_PRIVATE_KEY", "").strip()
    key_file = environ.get("JWT_PRIVATE_KEY_FILE", "").strip()
    if key_file and not jwt_private_key:
        try:
            jwt_private_key = Path(key_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"JWT_PRIVATE_KEY_FILE cannot be read: {exc.strerror}") from exc
    if jwt_private_key and "PRIVATE KEY" not in jwt_private_key:
        raise ConfigError("JWT_PRIVATE_KEY must be a PEM-encoded RSA private key")
    try:
        ttl = int(environ.get("JWT_ACCESS_TTL", "3600"))
    except ValueError as exc:
        raise ConfigError("JWT_ACCESS_TTL must be a number of seconds") from exc
    if not 60 <= ttl <= 86400:
        raise ConfigError("JWT_ACCESS_TTL must be between 60 and 86400 seconds")
    public_base_url = environ.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    if public_base_url and not public_base_url.startswith(("http://", "https://")):
        raise ConfigError("PUBLIC_BASE_URL must start with http:// or https://")
    origins = [o.strip() for o in environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
    if public_base_url and public_base_url not in origins:
        origins.append(public_base_url)
    try:
        hsts_seconds = int(environ.get("SECURE_HSTS_SECONDS", "31536000"))
    except ValueError as exc:
        raise ConfigError("SECURE_HSTS_SECONDS must be a number of seconds") from exc
    throttle = environ.get("AUTH_THROTTLE_RATE", "").strip() or "30/minute"
    if not re.fullmatch(r"\d+/(second|minute|hour|day)", throttle):
        raise ConfigError("AUTH_THROTTLE_RATE must look like 30/minute")

    return Config(
        debug=debug,
        secret_key=secret_key,
        allowed_hosts=allowed_hosts,
        time_zone=time_zone,
        data_dir=data_dir,
        database=database,
        broker_url=broker_url,
        broker_transport_options=transport_options,
        broker_transport="loyalty.core.broker:Transport" if embedded_broker else None,
        task_queue=environ.get("CELERY_QUEUE", "").strip() or "loyalty",
        embedded_database=embedded_database,
        embedded_broker=embedded_broker,
        public_base_url=public_base_url,
        jwt_private_key=jwt_private_key,
        jwt_access_ttl=ttl,
        auth_throttle_rate=throttle,
        csrf_trusted_origins=origins,
        trust_forwarded_proto=parse_bool(
            "TRUST_X_FORWARDED_PROTO", environ.get("TRUST_X_FORWARDED_PROTO"), default=False
        ),
        ssl_redirect=parse_bool("SECURE_SSL_REDIRECT", environ.get("SECURE_SSL_REDIRECT"), default=True),
        hsts_seconds=hsts_seconds,
    )
