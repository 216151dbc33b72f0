"""Reading settings from the environment (12-factor).

Every reader raises ConfigError with a message that names the setting and
never contains a secret value; the gunicorn config turns it into one line on
stderr and a non-zero exit before any worker starts.
"""

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

import psycopg2.extensions

Environment = Mapping[str, str]

# libpq reads these when DATABASE_URL is absent.
LIBPQ_TARGET_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGDATABASE", "PGSERVICE")
MINIMUM_TOKEN_LENGTH = 16
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class ConfigError(Exception):
    """A setting is missing or invalid."""


def secret(env: Environment, name: str, *, required: bool = True) -> str | None:
    """NAME, or the content of the file NAME_FILE points to (Kubernetes Secret mounts)."""
    file_name = f"{name}_FILE"
    value, path = env.get(name), env.get(file_name)
    if value is not None and path is not None:
        raise ConfigError(f"set {name} or {file_name}, not both")
    if path is not None:
        try:
            with open(path, encoding="utf-8") as secret_file:
                value = secret_file.read().strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not UTF-8 text"
            raise ConfigError(f"{file_name}: cannot read {path}: {reason}") from None
    if not value:
        if required:
            raise ConfigError(f"{name} is required (or {file_name}, the path of a file holding it)")
        return None
    return value


def database_url(env: Environment) -> str:
    """A libpq connection string, or "" to let libpq use the PG* variables."""
    url = secret(env, "DATABASE_URL", required=False)
    if url is None:
        if any(env.get(name) for name in LIBPQ_TARGET_VARIABLES):
            return ""
        raise ConfigError(
            "DATABASE_URL is required (or DATABASE_URL_FILE, or the libpq PG* variables)"
        )
    try:
        psycopg2.extensions.parse_dsn(url)
    except psycopg2.ProgrammingError:
        raise ConfigError("DATABASE_URL is not a valid PostgreSQL connection string") from None
    return url


def audit_token(env: Environment) -> str:
    token = secret(env, "AUDIT_TOKEN")
    if len(token) < MINIMUM_TOKEN_LENGTH:
        raise ConfigError(f"AUDIT_TOKEN must be at least {MINIMUM_TOKEN_LENGTH} characters long")
    return token


def http_url(env: Environment, name: str) -> str:
    value = env.get(name)
    if not value:
        raise ConfigError(f"{name} is required")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL with a host, got {value!r}")
    return value.rstrip("/")


def integer(env: Environment, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def log_level(env: Environment) -> str:
    value = env.get("LOG_LEVEL") or "info"
    if value.lower() not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return value.lower()


def bind_address(env: Environment, name: str = "BIND_ADDRESS", default: str = "127.0.0.1") -> str:
    """The address to listen on: loopback unless told otherwise, so that a
    service started by hand is not reachable from the network; the images set
    0.0.0.0."""
    value = env.get(name) or default
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ConfigError(f"{name} must be an IPv4 or IPv6 address, got {value!r}") from None


def ops_port(env: Environment, default: int) -> int:
    """OPS_PORT: where probes and metrics are served, apart from the service's PORT."""
    return integer(env, "OPS_PORT", default, 1, 65535)
