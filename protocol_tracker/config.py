"""Environment parsing for settings.

Every setting that comes from the environment is read here, validated, and turned into plain Python
values. A bad or half-set variable raises :class:`ConfigError` whose message starts with the
variable's name, so start-up fails with one clear line (see ``manage.py`` and ``wsgi.py``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import environ

ENVIRONMENTS = ("development", "test", "production")
INSECURE_KEY_PREFIX = "django-insecure-"
DEV_SECRET_KEY = INSECURE_KEY_PREFIX + "protocol-tracker-dev-only-never-in-production"
_BROKER_SCHEMES = ("filesystem", "redis", "rediss", "memory")
_EMAIL_SCHEMES = ("console", "smtp", "smtp+tls", "smtp+ssl", "memory", "file", "locmem")
# A Redis key and a file name of the filesystem broker: no slashes, spaces or wildcards.
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ConfigError(Exception):
    """A configuration variable is missing or malformed. The message names the variable."""


@dataclass(frozen=True)
class Config:
    env: str
    debug: bool
    secret_key: str
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    var_dir: Path
    database: dict
    broker_url: str
    broker_transport_options: dict
    result_backend: str
    email: dict
    default_from_email: str
    reminder_sweep_seconds: int
    port: int
    log_level: str
    secure_ssl_redirect: bool
    hsts_seconds: int
    behind_proxy: bool
    extra: dict = field(default_factory=dict)
    reminder_retry_seconds: int = 30
    instrument_upload_max_bytes: int = 100 * 1024 * 1024
    instrument_upload_inline_max_bytes: int = 1024 * 1024
    task_default_queue: str = "celery"
    patient_vault_keys: tuple[str, ...] = ()
    material_expiry_warning_days: int = 30
    inventory_import_max_rows: int = 50_000
    bank_low_stock_vials: int = 5

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")


def _get(environ_: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = environ_.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _bool(environ_: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(environ_, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _int(environ_: Mapping[str, str], name: str, default: int, *, lo: int, hi: int) -> int:
    raw = _get(environ_, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: must be between {lo} and {hi}, got {value}")
    return value


def _list(environ_: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = _get(environ_, name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _database(raw: str, var_dir: Path) -> dict:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    if scheme not in ("sqlite", "postgres", "postgresql", "pgsql"):
        raise ConfigError(
            f"DATABASE_URL: unsupported scheme {scheme or raw!r}; "
            "use postgres://user@host:port/name or sqlite:///path"
        )
    try:
        db = environ.Env.db_url_config(raw)
    except Exception as exc:  # django-environ raises a mix of types for malformed URLs
        raise ConfigError(f"DATABASE_URL: cannot parse {raw!r} ({exc})") from None
    if scheme == "sqlite":
        name = db.get("NAME") or ""
        if not name or name == ":memory:":
            db["NAME"] = str(var_dir / "db.sqlite3")
        db.setdefault("OPTIONS", {})
        # WAL lets the web process read while the worker writes; a busy timeout instead of
        # "database is locked" when two processes write at once.
        db["OPTIONS"].update(
            {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL;",
            }
        )
        # A file, not memory, for the test database: tests that start a real Celery worker
        # process need it to see the same data.
        db["TEST"] = {"NAME": str(var_dir / "test_db.sqlite3")}
    else:
        db["ENGINE"] = "django.db.backends.postgresql"
        if not db.get("NAME"):
            raise ConfigError("DATABASE_URL: the PostgreSQL URL names no database")
        db["CONN_MAX_AGE"] = 60
        db["CONN_HEALTH_CHECKS"] = True
    db["ATOMIC_REQUESTS"] = False
    return db


def _broker(raw: str | None, var_dir: Path) -> tuple[str, dict, str]:
    if raw is None:
        folder = var_dir / "broker"
        options = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            # Broadcast (remote control) files; kombu's default is ./control in the cwd.
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
        return "filesystem://", options, f"file://{var_dir / 'results'}"
    scheme = urlsplit(raw).scheme
    if scheme not in _BROKER_SCHEMES:
        raise ConfigError(
            f"CELERY_BROKER_URL: unsupported scheme {scheme or raw!r}; use redis://host:port/db"
        )
    if scheme in ("redis", "rediss"):
        if not urlsplit(raw).hostname:
            raise ConfigError(f"CELERY_BROKER_URL: no host in {raw!r}")
        return raw, {"visibility_timeout": 3600}, raw
    return raw, {}, "cache+memory://"


def _email(raw: str | None) -> dict:
    if raw is None:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    scheme = urlsplit(raw).scheme
    if scheme not in _EMAIL_SCHEMES:
        raise ConfigError(f"EMAIL_URL: unsupported scheme {scheme or raw!r}; use smtp://host:port")
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme in ("memory", "locmem"):
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    try:
        parsed = environ.Env.email_url_config(raw)
    except Exception as exc:
        raise ConfigError(f"EMAIL_URL: cannot parse {raw!r} ({exc})") from None
    parsed["EMAIL_TIMEOUT"] = 10
    return parsed


def _queue(environ_: Mapping[str, str]) -> str:
    name = _get(environ_, "CELERY_TASK_DEFAULT_QUEUE", "celery") or ""
    if not _QUEUE_NAME.match(name):
        raise ConfigError(
            "CELERY_TASK_DEFAULT_QUEUE: 1-100 letters, digits, '.', '_' or '-' "
            f"(starting with a letter or digit), got {name!r}"
        )
    return name


def _vault_keys(environ_: Mapping[str, str], *, production: bool) -> tuple[str, ...]:
    """PATIENT_VAULT_KEYS: comma-separated Fernet keys (32 url-safe base64 bytes), newest first."""
    keys = tuple(_list(environ_, "PATIENT_VAULT_KEYS", []))
    if production and not keys:
        raise ConfigError(
            "PATIENT_VAULT_KEYS: required when DJANGO_ENV=production (a Fernet key: "
            'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())")'
        )
    for index, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (ValueError, binascii.Error):
            raw = b""
        if len(key) != 44 or len(raw) != 32:
            raise ConfigError(
                f"PATIENT_VAULT_KEYS: key {index} is not a Fernet key (44 url-safe base64 "
                "characters of 32 random bytes)"
            )
    return keys


def load(environ_: Mapping[str, str], *, base_dir: Path) -> Config:
    """Read and validate the configuration from ``environ_`` (normally ``os.environ``)."""
    env = (_get(environ_, "DJANGO_ENV", "development") or "").lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"DJANGO_ENV: expected one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    production = env == "production"

    var_dir = Path(_get(environ_, "VAR_DIR", str(base_dir / "var")) or "").resolve()

    secret_key = _get(environ_, "SECRET_KEY")
    if production:
        if secret_key is None:
            raise ConfigError("SECRET_KEY: required when DJANGO_ENV=production")
        if (
            secret_key.startswith(INSECURE_KEY_PREFIX)
            or len(secret_key) < 50
            or len(set(secret_key)) < 5
        ):
            raise ConfigError(
                "SECRET_KEY: not a real secret (need 50+ random characters, "
                "not the development key)"
            )
    secret_key = secret_key or DEV_SECRET_KEY

    debug = _bool(environ_, "DEBUG", default=env == "development")
    if production and debug:
        raise ConfigError("DEBUG: must be false when DJANGO_ENV=production")

    allowed_hosts = _list(
        environ_, "ALLOWED_HOSTS", [] if production else ["127.0.0.1", "localhost", "[::1]"]
    )
    if production and not allowed_hosts:
        raise ConfigError("ALLOWED_HOSTS: required when DJANGO_ENV=production (comma-separated)")
    if production and "*" in allowed_hosts:
        raise ConfigError("ALLOWED_HOSTS: '*' is not allowed in production")

    origins = _list(environ_, "CSRF_TRUSTED_ORIGINS", [])
    for origin in origins:
        if not re.match(r"^https?://[^/]+$", origin):
            raise ConfigError(f"CSRF_TRUSTED_ORIGINS: {origin!r} is not scheme://host[:port]")

    database_url = _get(environ_, "DATABASE_URL", f"sqlite:///{var_dir / 'db.sqlite3'}")
    database = _database(database_url or "", var_dir)
    if production and database["ENGINE"].endswith("sqlite3"):
        raise ConfigError("DATABASE_URL: production needs PostgreSQL (postgres://user@host/name)")

    broker_url, broker_options, result_backend = _broker(
        _get(environ_, "CELERY_BROKER_URL"), var_dir
    )
    if production and broker_url.startswith(("filesystem", "memory")):
        raise ConfigError("CELERY_BROKER_URL: production needs Redis (redis://host:port/db)")

    return Config(
        env=env,
        debug=debug,
        secret_key=secret_key,
        allowed_hosts=allowed_hosts,
        csrf_trusted_origins=origins,
        var_dir=var_dir,
        database=database,
        broker_url=broker_url,
        broker_transport_options=broker_options,
        result_backend=result_backend,
        email=_email(_get(environ_, "EMAIL_URL")),
        default_from_email=_get(environ_, "DEFAULT_FROM_EMAIL", "protocol-tracker@localhost") or "",
        reminder_sweep_seconds=_int(environ_, "REMINDER_SWEEP_SECONDS", 60, lo=5, hi=3600),
        reminder_retry_seconds=_int(environ_, "REMINDER_RETRY_SECONDS", 30, lo=1, hi=600),
        instrument_upload_max_bytes=_int(
            environ_, "INSTRUMENT_UPLOAD_MAX_BYTES", 100 * 1024 * 1024, lo=1024, hi=1024**3
        ),
        instrument_upload_inline_max_bytes=_int(
            environ_, "INSTRUMENT_UPLOAD_INLINE_MAX_BYTES", 1024 * 1024, lo=0, hi=100 * 1024**2
        ),
        task_default_queue=_queue(environ_),
        patient_vault_keys=_vault_keys(environ_, production=production),
        material_expiry_warning_days=_int(
            environ_, "MATERIAL_EXPIRY_WARNING_DAYS", 30, lo=0, hi=365
        ),
        inventory_import_max_rows=_int(
            environ_, "INVENTORY_IMPORT_MAX_ROWS", 50_000, lo=1, hi=500_000
        ),
        bank_low_stock_vials=_int(environ_, "BANK_LOW_STOCK_VIALS", 5, lo=0, hi=10_000),
        port=_int(environ_, "PORT", 8000, lo=1, hi=65535),
        log_level=(_get(environ_, "LOG_LEVEL", "INFO") or "").upper(),
        secure_ssl_redirect=_bool(environ_, "SECURE_SSL_REDIRECT", default=production),
        hsts_seconds=_int(
            environ_, "HSTS_SECONDS", 31536000 if production else 0, lo=0, hi=63072000
        ),
        behind_proxy=_bool(environ_, "BEHIND_PROXY", default=False),
    )
