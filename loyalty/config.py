"""Environment parsing for `loyalty.settings`, kept free of Django so it can be tested with plain dicts.

Every variable read here is documented once, in the README's configuration table.
"""

from __future__ import annotations

import re
import secrets
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from loyalty.embedded_postgres.server import SUPERUSER, server_for

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}
LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
# The tokens' issuer when neither JWT_ISSUER nor PUBLIC_BASE_URL names the deployment: tokens are signed with the
# deployment's own key, so a constant issuer still tells them apart from anyone else's.
DEFAULT_JWT_ISSUER = "urn:loyalty"


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
    jwt_issuer: str = DEFAULT_JWT_ISSUER
    jwt_private_key: str = ""
    jwt_access_ttl: int = 3600
    auth_throttle_rate: str = "30/minute"
    csrf_trusted_origins: list[str] = field(default_factory=list)
    trust_forwarded_proto: bool = False
    ssl_redirect: bool = True
    hsts_seconds: int = 31_536_000
    cors_public_origins: list[str] = field(default_factory=lambda: ["*"])
    automations_http_allow_private: bool = False
    automations_http_timeout: int = 10
    automations_http_retry_base: float = 30.0


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
    data_dir = _data_dir(environ, base_dir)
    if not debug:
        _require_production(environ)
    secret_key = environ.get("SECRET_KEY", "").strip() or _dev_secret_key(data_dir)
    hosts_raw = environ.get("ALLOWED_HOSTS", "")
    allowed_hosts = [h.strip() for h in hosts_raw.split(",") if h.strip()] or list(LOCAL_HOSTS)
    time_zone = _time_zone(environ)
    database, embedded_database = _database(environ, data_dir)
    broker_url, transport_options = _broker(environ, data_dir)
    embedded_broker = bool(transport_options)
    jwt_private_key, ttl = _jwt(environ)
    public_base_url, origins = _origins(environ)
    hsts_seconds = _seconds(environ, "SECURE_HSTS_SECONDS", "31536000")
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
        jwt_issuer=_jwt_issuer(environ, public_base_url),
        jwt_private_key=jwt_private_key,
        jwt_access_ttl=ttl,
        auth_throttle_rate=throttle,
        csrf_trusted_origins=origins,
        trust_forwarded_proto=parse_bool(
            "TRUST_X_FORWARDED_PROTO", environ.get("TRUST_X_FORWARDED_PROTO"), default=False
        ),
        ssl_redirect=parse_bool("SECURE_SSL_REDIRECT", environ.get("SECURE_SSL_REDIRECT"), default=True),
        hsts_seconds=hsts_seconds,
        cors_public_origins=_cors_public_origins(environ),
        **_automations_http(environ),
    )


def _automations_http(environ: Mapping[str, str]) -> dict[str, Any]:
    timeout = _seconds(environ, "AUTOMATIONS_HTTP_TIMEOUT", "10")
    if not 1 <= timeout <= 120:
        raise ConfigError("AUTOMATIONS_HTTP_TIMEOUT must be 1 to 120 seconds")
    try:
        base = float(environ.get("AUTOMATIONS_HTTP_RETRY_BASE", "30"))
    except ValueError as exc:
        raise ConfigError("AUTOMATIONS_HTTP_RETRY_BASE must be a number of seconds") from exc
    if not 0 < base <= 3600:
        raise ConfigError("AUTOMATIONS_HTTP_RETRY_BASE must be above 0 and at most 3600 seconds")
    return {
        "automations_http_allow_private": parse_bool(
            "AUTOMATIONS_HTTP_ALLOW_PRIVATE", environ.get("AUTOMATIONS_HTTP_ALLOW_PRIVATE"), default=False
        ),
        "automations_http_timeout": timeout,
        "automations_http_retry_base": base,
    }


def _data_dir(environ: Mapping[str, str], base_dir: Path) -> Path:
    data_dir = Path(environ.get("LOYALTY_DATA_DIR") or base_dir / ".data").expanduser()
    return data_dir if data_dir.is_absolute() else (base_dir / data_dir).resolve()


def _require_production(environ: Mapping[str, str]) -> None:
    for required in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"):
        if not environ.get(required, "").strip():
            raise ConfigError(f"{required} must be set when DEBUG is off (production)")


def _time_zone(environ: Mapping[str, str]) -> str:
    time_zone = environ.get("TIME_ZONE", "UTC").strip() or "UTC"
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"TIME_ZONE must be an IANA time zone, got {time_zone!r}") from exc
    return time_zone


def _database(environ: Mapping[str, str], data_dir: Path) -> tuple[dict[str, Any], bool]:
    """Django's DATABASES entry and whether it is the embedded server (no DATABASE_URL)."""
    database_url = environ.get("DATABASE_URL", "").strip()
    embedded = not database_url
    database = _embedded_database(data_dir) if embedded else parse_database_url(database_url)
    # Worker processes started by the test suite must use the test database pytest created.
    if environ.get("LOYALTY_DB_NAME"):
        database["NAME"] = environ["LOYALTY_DB_NAME"]
        database.pop("LOYALTY_AUTOCREATE", None)
    database.update({"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True, "ATOMIC_REQUESTS": False})
    return database, embedded


def _embedded_database(data_dir: Path) -> dict[str, Any]:
    name = "loyalty"
    return {
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


def _broker(environ: Mapping[str, str], data_dir: Path) -> tuple[str, dict[str, Any]]:
    """The broker URL and, for the embedded (filesystem) broker that an empty CELERY_BROKER_URL means, its
    transport options (empty for a real broker)."""
    broker_url = environ.get("CELERY_BROKER_URL", "").strip()
    if not broker_url:
        queue_dir = data_dir / "broker" / "queue"
        control_dir = data_dir / "broker" / "control"
        return "filesystem://localhost/", {
            "data_folder_in": str(queue_dir),
            "data_folder_out": str(queue_dir),
            "control_folder": str(control_dir),
            "polling_interval": 0.2,
        }
    if not broker_url.startswith(("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")):
        raise ConfigError(f"CELERY_BROKER_URL must be a redis:// or amqp:// URL, got {broker_url.split(':')[0]!r}")
    return broker_url, {}


def _jwt(environ: Mapping[str, str]) -> tuple[str, int]:
    """The PEM private key (empty: tokens are signed with HS256, see loyalty.accounts.tokens) and the access
    tokens' lifetime in seconds."""
    jwt_private_key = environ.get("JWT_PRIVATE_KEY", "").strip()
    key_file = environ.get("JWT_PRIVATE_KEY_FILE", "").strip()
    if key_file and not jwt_private_key:
        try:
            jwt_private_key = Path(key_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"JWT_PRIVATE_KEY_FILE cannot be read: {exc.strerror}") from exc
    if jwt_private_key and "PRIVATE KEY" not in jwt_private_key:
        raise ConfigError("JWT_PRIVATE_KEY must be a PEM-encoded RSA private key")
    ttl = _seconds(environ, "JWT_ACCESS_TTL", "3600")
    if not 60 <= ttl <= 86400:
        raise ConfigError("JWT_ACCESS_TTL must be between 60 and 86400 seconds")
    return jwt_private_key, ttl


def _jwt_issuer(environ: Mapping[str, str], public_base_url: str) -> str:
    """The deployment's token issuer (`iss`, and the base of the audiences): one value for every host name the
    deployment answers to, so a token minted through one works through another."""
    return environ.get("JWT_ISSUER", "").strip().rstrip("/") or public_base_url or DEFAULT_JWT_ISSUER


def _origins(environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """PUBLIC_BASE_URL and the CSRF trusted origins (which include it)."""
    public_base_url = environ.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    if public_base_url and not public_base_url.startswith(("http://", "https://")):
        raise ConfigError("PUBLIC_BASE_URL must start with http:// or https://")
    origins = [o.strip() for o in environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]
    if public_base_url and public_base_url not in origins:
        origins.append(public_base_url)
    return public_base_url, origins


def _cors_public_origins(environ: Mapping[str, str]) -> list[str]:
    """CORS_PUBLIC_ORIGINS: the origins (scheme://host[:port], comma-separated) whose pages may call the widget's
    public endpoints (token, public rules), or `*` (the default) for any origin."""
    raw = environ.get("CORS_PUBLIC_ORIGINS", "").strip() or "*"
    origins = [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]
    if origins == ["*"]:
        return origins
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            raise ConfigError(f"CORS_PUBLIC_ORIGINS must be * or origins like https://shop.example, got {origin!r}")
    return origins


def _seconds(environ: Mapping[str, str], name: str, default: str) -> int:
    try:
        return int(environ.get(name, default))
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds") from exc
