"""Settings parsing: good values, bad values (one clear line naming the variable)."""

import subprocess
import sys
from pathlib import Path

import pytest

from protocol_tracker.config import DEV_SECRET_KEY, ConfigError, load

BASE = Path("/srv/pt")
REAL_KEY = "k3y-" + "x7Qp9Lm2Zr5Vt8Wn1Bc4Hd6Jf0Gs3Ky" * 2
VAULT_KEY = "dGhpcy1pcy1hLXRlc3Qta2V5LW9mLTMyLWJ5dGVzISE="  # 32 bytes, url-safe base64


def test_defaults_need_no_server():
    config = load({}, base_dir=BASE)

    assert config.env == "development"
    assert config.debug is True
    assert config.database["ENGINE"] == "django.db.backends.sqlite3"
    assert config.database["NAME"] == "/srv/pt/var/db.sqlite3"
    assert config.broker_url == "filesystem://"
    assert config.broker_transport_options["data_folder_in"] == "/srv/pt/var/broker/queue"
    assert config.result_backend == "file:///srv/pt/var/results"
    assert config.secret_key == DEV_SECRET_KEY
    assert config.reminder_sweep_seconds == 60
    assert config.email == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}


def test_postgres_and_redis_urls():
    config = load(
        {
            "DATABASE_URL": "postgres://app:pw@db.internal:5433/tracker",
            "CELERY_BROKER_URL": "redis://cache.internal:6379/2",
        },
        base_dir=BASE,
    )

    assert config.database["ENGINE"] == "django.db.backends.postgresql"
    assert config.database["NAME"] == "tracker"
    assert config.database["HOST"] == "db.internal"
    assert config.database["PORT"] == 5433
    assert config.broker_url == "redis://cache.internal:6379/2"
    assert config.result_backend == "redis://cache.internal:6379/2"


def test_smtp_email_url():
    config = load({"EMAIL_URL": "smtp://mailer:pw@smtp.lab.example:2525"}, base_dir=BASE)

    assert config.email["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert config.email["EMAIL_HOST"] == "smtp.lab.example"
    assert config.email["EMAIL_PORT"] == 2525


def test_production_profile():
    config = load(
        {
            "DJANGO_ENV": "production",
            "SECRET_KEY": REAL_KEY,
            "ALLOWED_HOSTS": "tracker.lab.example, tracker2.lab.example",
            "DATABASE_URL": "postgres://app@db/tracker",
            "CELERY_BROKER_URL": "redis://cache:6379/0",
            "PATIENT_VAULT_KEYS": VAULT_KEY,
        },
        base_dir=BASE,
    )

    assert config.is_production
    assert config.patient_vault_keys == (VAULT_KEY,)
    assert config.debug is False
    assert config.allowed_hosts == ["tracker.lab.example", "tracker2.lab.example"]
    assert config.secure_ssl_redirect is True
    assert config.hsts_seconds == 31536000


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV: expected one of development, test, production"),
        ({"DEBUG": "maybe"}, "DEBUG: expected true or false, got 'maybe'"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL: unsupported scheme 'mysql'"),
        ({"DATABASE_URL": "postgres://x@y"}, "DATABASE_URL: the PostgreSQL URL names no database"),
        (
            {"CELERY_BROKER_URL": "amqp://guest@rabbit//"},
            "CELERY_BROKER_URL: unsupported scheme 'amqp'",
        ),
        ({"CELERY_BROKER_URL": "redis://"}, "CELERY_BROKER_URL: no host in 'redis://'"),
        ({"REMINDER_SWEEP_SECONDS": "0"}, "REMINDER_SWEEP_SECONDS: must be between 5 and 3600"),
        ({"REMINDER_SWEEP_SECONDS": "soon"}, "REMINDER_SWEEP_SECONDS: expected a whole number"),
        ({"PORT": "99999"}, "PORT: must be between 1 and 65535"),
        ({"EMAIL_URL": "carrier-pigeon://coop"}, "EMAIL_URL: unsupported scheme"),
        ({"CSRF_TRUSTED_ORIGINS": "tracker.lab"}, "CSRF_TRUSTED_ORIGINS: 'tracker.lab' is not"),
        ({"DJANGO_ENV": "production"}, "SECRET_KEY: required when DJANGO_ENV=production"),
        (
            {"DJANGO_ENV": "production", "SECRET_KEY": DEV_SECRET_KEY},
            "SECRET_KEY: not a real secret",
        ),
        ({"DJANGO_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY: not a real secret"),
        (
            {"DJANGO_ENV": "production", "SECRET_KEY": REAL_KEY},
            "ALLOWED_HOSTS: required when DJANGO_ENV=production",
        ),
        (
            {"DJANGO_ENV": "production", "SECRET_KEY": REAL_KEY, "ALLOWED_HOSTS": "*"},
            "ALLOWED_HOSTS: '*' is not allowed in production",
        ),
        (
            {
                "DJANGO_ENV": "production",
                "SECRET_KEY": REAL_KEY,
                "ALLOWED_HOSTS": "a.example",
                "DEBUG": "true",
            },
            "DEBUG: must be false when DJANGO_ENV=production",
        ),
        (
            {"DJANGO_ENV": "production", "SECRET_KEY": REAL_KEY, "ALLOWED_HOSTS": "a.example"},
            "DATABASE_URL: production needs PostgreSQL",
        ),
        (
            {
                "DJANGO_ENV": "production",
                "SECRET_KEY": REAL_KEY,
                "ALLOWED_HOSTS": "a.example",
                "DATABASE_URL": "postgres://app@db/tracker",
            },
            "CELERY_BROKER_URL: production needs Redis",
        ),
        (
            {
                "DJANGO_ENV": "production",
                "SECRET_KEY": REAL_KEY,
                "ALLOWED_HOSTS": "a.example",
                "DATABASE_URL": "postgres://app@db/tracker",
                "CELERY_BROKER_URL": "redis://cache:6379/0",
            },
            "PATIENT_VAULT_KEYS: required when DJANGO_ENV=production",
        ),
        ({"PATIENT_VAULT_KEYS": "not-a-key"}, "PATIENT_VAULT_KEYS: key 1 is not a Fernet key"),
        (
            {"PATIENT_VAULT_KEYS": VAULT_KEY + ",short"},
            "PATIENT_VAULT_KEYS: key 2 is not a Fernet key",
        ),
    ],
)
def test_bad_configuration_names_the_variable(environ, message):
    with pytest.raises(ConfigError) as excinfo:
        load(environ, base_dir=BASE)

    assert str(excinfo.value).startswith(message)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("value", "queue"),
    [(None, "celery"), ("", "celery"), ("tracker-prod", "tracker-prod"), ("pt.t_1", "pt.t_1")],
)
def test_the_task_queue_is_celery_unless_set(value, queue):
    environ = {} if value is None else {"CELERY_TASK_DEFAULT_QUEUE": value}

    assert load(environ, base_dir=BASE).task_default_queue == queue


@pytest.mark.parametrize("value", ["two words", "a/b", "-dash-first", "q*", "x" * 101])
def test_a_bad_task_queue_names_the_variable(value):
    with pytest.raises(ConfigError) as excinfo:
        load({"CELERY_TASK_DEFAULT_QUEUE": value}, base_dir=BASE)

    assert str(excinfo.value).startswith(
        "CELERY_TASK_DEFAULT_QUEUE: 1-100 letters, digits, '.', '_' or '-'"
    )
    assert "\n" not in str(excinfo.value)


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_bad_configuration_stops_startup_with_one_line(tmp_path):
    result = _manage(
        "check",
        env={"PATH": "/usr/bin:/bin", "VAR_DIR": str(tmp_path), "DATABASE_URL": "mysql://x@y/z"},
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: DATABASE_URL: unsupported scheme 'mysql'; "
        "use postgres://user@host:port/name or sqlite:///path"
    ]


def test_production_profile_passes_check_deploy(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "VAR_DIR": str(tmp_path),
        "DJANGO_ENV": "production",
        "SECRET_KEY": REAL_KEY,
        "ALLOWED_HOSTS": "tracker.lab.example",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "PATIENT_VAULT_KEYS": VAULT_KEY,
    }
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_seed_demo_refuses_production(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "VAR_DIR": str(tmp_path),
        "DJANGO_ENV": "production",
        "SECRET_KEY": REAL_KEY,
        "ALLOWED_HOSTS": "tracker.lab.example",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "PATIENT_VAULT_KEYS": VAULT_KEY,
    }
    result = _manage("seed_demo", env=env)

    assert result.returncode == 1
    assert "seed_demo refuses to run with DJANGO_ENV=production" in result.stderr
