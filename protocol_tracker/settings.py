"""Django settings: one module, driven by the environment through ``protocol_tracker.config``.

Defaults need no server: SQLite under ``var/`` and kombu's filesystem broker. ``DATABASE_URL``
switches to PostgreSQL, ``CELERY_BROKER_URL`` to Redis, ``DJANGO_ENV=production`` hardens it all.
"""

import os
from datetime import timedelta
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from protocol_tracker.config import load

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG = load(os.environ, base_dir=BASE_DIR)

DJANGO_ENV = CONFIG.env
SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins
VAR_DIR = CONFIG.var_dir

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "labs",
    "protocol_tracker.audit",
    "protocol_tracker.signatures",
    "protocol_tracker.protocols",
    "protocol_tracker.identity",
    "protocol_tracker.materials",
    "protocol_tracker.equipment",
    "protocol_tracker.inventory",
    "protocol_tracker.runs",
    "protocol_tracker.usage",
    "protocol_tracker.qc",
    "protocol_tracker.custody",
    "protocol_tracker.cellbank",
    "protocol_tracker.outcomes",
    "protocol_tracker.clinical",
    "protocol_tracker.recalls",
    "protocol_tracker.reminders",
    "protocol_tracker.api",
    "protocol_tracker.web",
    "protocol_tracker.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "protocol_tracker.audit.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so that it sees the authenticated user and records failed logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "protocol_tracker.urls"
WSGI_APPLICATION = "protocol_tracker.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": CONFIG.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# Login throttling (django-axes): five failures lock that username from that address for an hour.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(hours=1)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = True

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if CONFIG.is_production
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not CONFIG.is_production
if not CONFIG.is_production:
    # WhiteNoise warns when STATIC_ROOT is missing; in development files come from the finders.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Email: console unless EMAIL_URL says otherwise.
for _key, _value in CONFIG.email.items():
    globals()[_key] = _value
DEFAULT_FROM_EMAIL = CONFIG.default_from_email

# Celery: the embedded filesystem broker by default, Redis in production.
CELERY_BROKER_URL = CONFIG.broker_url
CELERY_BROKER_TRANSPORT_OPTIONS = CONFIG.broker_transport_options
CELERY_RESULT_BACKEND = CONFIG.result_backend
# Every task goes to (and every worker without -Q consumes) this one queue.
CELERY_TASK_DEFAULT_QUEUE = CONFIG.task_default_queue
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
REMINDER_SWEEP_SECONDS = CONFIG.reminder_sweep_seconds
# First retry of a failed email or webhook after this many seconds, doubling up to 10 minutes.
REMINDER_RETRY_SECONDS = CONFIG.reminder_retry_seconds
# Instrument uploads: refused above this size (each file format has its own lower or higher
# ceiling, the smaller wins); parsed in the request up to the inline size, else by a worker.
INSTRUMENT_UPLOAD_MAX_BYTES = CONFIG.instrument_upload_max_bytes
INSTRUMENT_UPLOAD_INLINE_MAX_BYTES = CONFIG.instrument_upload_inline_max_bytes
# Chain of identity: the vault's Fernet keys (newest first; a key under VAR_DIR/vault/ when
# unset outside production) and extra COI layouts (dotted paths of identity.layouts.CoiLayout).
PATIENT_VAULT_KEYS = CONFIG.patient_vault_keys
IDENTITY_COI_LAYOUTS: tuple[str, ...] = ()
# Materials: a lot used this many days or fewer before its expiry warns (a material may set its
# own); the largest inventory CSV accepted, in rows.
MATERIAL_EXPIRY_WARNING_DAYS = CONFIG.material_expiry_warning_days
INVENTORY_IMPORT_MAX_ROWS = CONFIG.inventory_import_max_rows
# A master or working bank of a clone with fewer vials left than this shows a low-stock warning.
BANK_LOW_STOCK_VIALS = CONFIG.bank_low_stock_vials
CELERY_BEAT_SCHEDULE: dict = {
    # The sweep is cheap and state-driven; a run that waited in the queue past the next one is
    # useless, hence the expiry.
    "reminders-sweep": {
        "task": "reminders.sweep",
        "schedule": REMINDER_SWEEP_SECONDS,
        "options": {"expires": REMINDER_SWEEP_SECONDS},
    },
    "qc-requeue-uploads": {
        "task": "qc.requeue_uploads",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "reminders-digests": {
        "task": "reminders.digests",
        "schedule": REMINDER_SWEEP_SECONDS,
        "options": {"expires": REMINDER_SWEEP_SECONDS},
    },
    "materials-expire-lots": {
        "task": "materials.expire_lots",
        "schedule": REMINDER_SWEEP_SECONDS,
        "options": {"expires": REMINDER_SWEEP_SECONDS},
    },
}

REST_FRAMEWORK = {
    # Tokens first: an unauthenticated call then gets 401 with WWW-Authenticate, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "protocol_tracker.api.authentication.PersonalTokenAuthentication",
        "protocol_tracker.api.authentication.InstrumentTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["protocol_tracker.api.permissions.IsPerson"],
    "DEFAULT_RENDERER_CLASSES": [
        "protocol_tracker.api.renderers.ORJSONRenderer",
        "protocol_tracker.api.renderers.ProblemJSONRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["protocol_tracker.api.parsers.LimitedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "protocol_tracker.api.pagination.IdCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["protocol_tracker.api.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "person": "1200/min",
        "instrument": "1200/min",
        "anon": "60/min",
        "token_issue": "30/min",
    },
    "EXCEPTION_HANDLER": "protocol_tracker.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "protocol_tracker.api.schema.ApiAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "protocol_tracker API",
    "DESCRIPTION": (
        "REST API v1 for people (session or personal token) and instruments (instrument "
        "token). Every error is problem details (RFC 9457, `application/problem+json`). "
        "Create requests accept an `Idempotency-Key` header. Lists use cursor pagination "
        "(`next`/`previous` links) and accept `?fields=`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "ENUM_NAME_OVERRIDES": {
        "RunStatusEnum": "protocol_tracker.runs.models.RunStatus",
        "StageStatusEnum": "protocol_tracker.runs.models.StageStatus",
        "ProtocolStatusEnum": "protocol_tracker.protocols.models.ProtocolStatus",
        "StageKindEnum": "protocol_tracker.protocols.models.StageKind",
        "DeviationStatusEnum": "protocol_tracker.qc.models.DeviationStatus",
        "DeviationKindEnum": "protocol_tracker.qc.models.DeviationKind",
        "DispositionEnum": "protocol_tracker.qc.models.Disposition",
        "ParseStatusEnum": "protocol_tracker.qc.models.RawFileStatus",
        "RawFileKindEnum": "protocol_tracker.qc.models.RawFileKind",
        "VerdictEnum": "protocol_tracker.qc.models.Verdict",
        "ItemKindEnum": "protocol_tracker.custody.models.ItemKind",
        "ShipmentKindEnum": "protocol_tracker.custody.models.ShipmentKind",
        "ScanVerdictEnum": "protocol_tracker.custody.models.ScanVerdict",
        "LabelFormatEnum": "protocol_tracker.identity.models.LabelFormat",
        "VisitKindEnum": "protocol_tracker.clinical.models.VisitKind",
        "TherapyEventKindEnum": "protocol_tracker.clinical.models.TherapyEventKind",
        "MaterialKindEnum": "protocol_tracker.materials.models.MaterialKind",
        "LotStatusEnum": "protocol_tracker.materials.models.LotStatus",
        "EquipmentKindEnum": "protocol_tracker.protocols.models.EquipmentKind",
        "EquipmentStatusEnum": "protocol_tracker.equipment.models.EquipmentStatus",
        "MaintenanceKindEnum": "protocol_tracker.equipment.models.MaintenanceKind",
        "StorageKindEnum": "protocol_tracker.inventory.models.StorageKind",
        "VialStatusEnum": "protocol_tracker.cellbank.models.VialStatus",
        "VesselKindEnum": "protocol_tracker.cellbank.models.VesselKind",
        "VesselStatusEnum": "protocol_tracker.cellbank.models.VesselStatus",
        "BankTierEnum": "protocol_tracker.cellbank.models.BankTier",
    },
}

# Content Security Policy (django-csp 4): everything is served from our own origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from a meta tag; the cookie stays same-site.
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if CONFIG.is_production:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = CONFIG.secure_ssl_redirect
    SECURE_HSTS_SECONDS = CONFIG.hsts_seconds
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if CONFIG.behind_proxy:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": CONFIG.log_level},
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}
