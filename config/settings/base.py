"""Settings read from the environment only (see README "Configuration" and .env.example).

Every variable is read here through :func:`env_*` helpers so that a bad or missing value fails
at start-up with a message that names the variable.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
_env_file = os.environ.get("QUOTIENT_ENV_FILE", str(BASE_DIR / ".env"))
if os.path.exists(_env_file):
    environ.Env.read_env(_env_file)


def _bad(name: str, why: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Configuration error in environment variable {name}: {why}")


def env_bool(name: str, default: bool) -> bool:
    """Return a boolean variable; anything but true/false/1/0/yes/no/on/off is an error."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise _bad(name, f"expected true/false, got {raw!r}")


def env_int(name: str, default: int) -> int:
    """Return an integer variable."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise _bad(name, f"expected an integer, got {raw!r}") from None


def env_str(name: str, default: str | None = None) -> str | None:
    """Return a string variable, or ``default`` when unset or empty."""
    raw = os.environ.get(name)
    return default if raw is None or raw == "" else raw


def env_list(name: str, default: list[str]) -> list[str]:
    """Return a comma-separated list variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_db(name: str, default: str | None) -> dict[str, object] | None:
    """Return a DATABASES entry parsed from a URL variable (postgres:// or sqlite:///)."""
    raw = env_str(name, default)
    if raw is None:
        return None
    scheme = urlsplit(raw).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise _bad(name, f"unsupported database scheme {scheme!r} (use postgres:// or sqlite:///)")
    try:
        config: dict[str, object] = env.db_url_config(raw)
    except Exception as exc:  # django-environ raises several types for malformed URLs
        raise _bad(name, f"cannot parse database URL ({exc})") from None
    if config["ENGINE"] == "django.db.backends.postgresql" and not config.get("NAME"):
        raise _bad(name, "the URL names no database")
    return config


# --- core -------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
_NEW_KEY = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
if not SECRET_KEY:
    if not DEBUG:
        raise _bad("SECRET_KEY", "is required when DEBUG is off")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105 (DEBUG only)
elif "change-me" in SECRET_KEY.lower():
    raise _bad("SECRET_KEY", f"is still the placeholder of .env.example; {_NEW_KEY}")
elif (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5) and not DEBUG:
    # Django's own deploy check (security.W009) asks the same.
    raise _bad("SECRET_KEY", f"must be at least 50 characters, not one repeated; {_NEW_KEY}")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise _bad("ALLOWED_HOSTS", "is required when DEBUG is off (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "core",  # first of ours: its `migrate` replaces Django's (it runs as the owner role)
    "hierarchy",
    "plans",
    "incentives",
    "payouts",
    "dashboards",
]

MIDDLEWARE = [
    "core.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.SecurityHeadersMiddleware",
    "core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.TenantMiddleware",
    "core.middleware.NotFoundMiddleware",
    "core.middleware.MalformedPageInputMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.tenancy",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------------------------
# DATABASE_URL is the application role: no superuser, no table ownership, no BYPASSRLS.
# DATABASE_OWNER_URL is the role that owns the schema; `manage.py migrate` and test-database
# creation switch to it. With SQLite (the demo) both are the same file.

VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")
_default_db = env_db("DATABASE_URL", f"sqlite:///{VAR_DIR / 'quotient.sqlite3'}")
assert _default_db is not None
DATABASE_OWNER = env_db("DATABASE_OWNER_URL", None)
if DATABASE_OWNER is not None and DATABASE_OWNER["ENGINE"] != _default_db["ENGINE"]:
    raise _bad("DATABASE_OWNER_URL", "must use the same database engine as DATABASE_URL")
_default_db["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
_default_db["CONN_HEALTH_CHECKS"] = True
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    Path(str(_default_db["NAME"])).parent.mkdir(parents=True, exist_ok=True)
    _default_db["OPTIONS"] = {"timeout": 20}
    _default_db["CONN_MAX_AGE"] = 0
# A statement may not outlive the request that started it (gunicorn kills a request at 30 s,
# PostgreSQL would run on); Celery workers raise it to CELERY_TASK_TIME_LIMIT (config/celery.py).
# The schema owner (migrations) has none. db_bootstrap also sets it as the app role's default.
DATABASE_STATEMENT_TIMEOUT = env_int("DATABASE_STATEMENT_TIMEOUT", 30)


def pg_session_options(*, statement_timeout_s: int) -> dict[str, str]:
    """Return PostgreSQL connection OPTIONS that set the session's statement_timeout."""
    return {"options": f"-c statement_timeout={max(0, statement_timeout_s) * 1000}"}


if _default_db["ENGINE"] == "django.db.backends.postgresql":
    _default_db["OPTIONS"] = {
        **dict(_default_db.get("OPTIONS") or {}),  # type: ignore[call-overload]
        **pg_session_options(statement_timeout_s=DATABASE_STATEMENT_TIMEOUT),
    }
    if DATABASE_OWNER is not None:
        DATABASE_OWNER["OPTIONS"] = {
            **dict(DATABASE_OWNER.get("OPTIONS") or {}),  # type: ignore[call-overload]
            **pg_session_options(statement_timeout_s=0),
        }
DATABASES = {"default": _default_db}
# The application role's credentials, kept so code that switched to the owner can switch back.
DATABASE_APP = {k: _default_db.get(k, "") for k in ("USER", "PASSWORD", "HOST", "PORT")}
DATABASE_APP["OPTIONS"] = _default_db.get("OPTIONS") or {}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- money --------------------------------------------------------------------------------------
DEFAULT_MAX_DIGITS = 20
DEFAULT_DECIMAL_PLACES = 4
RATE_MAX_DIGITS = 12
RATE_DECIMAL_PLACES = 8

# --- auth ---------------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["core.auth.EmailBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)

# --- security: sign-in throttling, HTTPS, headers (core/auth.py, core/middleware.py) ---------
# Per account LOGIN_FAILURE_LIMIT (above); per client address only at this higher threshold.
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 50)
PASSWORD_RESET_LIMIT = env_int("PASSWORD_RESET_LIMIT", 3)
PASSWORD_RESET_IP_LIMIT = env_int("PASSWORD_RESET_IP_LIMIT", 20)
PASSWORD_RESET_WINDOW_SECONDS = env_int("PASSWORD_RESET_WINDOW_SECONDS", 3600)
# Production defaults; DEBUG (the demo) and the tests serve plain http.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the container's own health check speaks plain http
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# The preload directive alone changes nothing until the domain is submitted to hstspreload.org.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
CSRF_FAILURE_VIEW = "core.views.csrf_failure"

# --- email --------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Quotient <quotient@localhost>")

# --- i18n / time --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static -------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")) or VAR_DIR / "static")
WHITENOISE_USE_FINDERS = DEBUG  # the demo serves straight from the source tree
WHITENOISE_AUTOREFRESH = DEBUG
with contextlib.suppress(OSError):  # a read-only image: collectstatic ran at build time
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "core.staticfinders.PlotlyFinder",  # plotly/plotly.min.js from the plotly package
]
# Static files (our CSS, Swagger UI, plotly.js) are served by the app itself: no CDN, ever.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- cache & celery -----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL is not None and urlsplit(REDIS_URL).scheme not in {"redis", "rediss"}:
    raise _bad("REDIS_URL", "must start with redis:// or rediss://")
# Without Redis (the demo), tasks run in the process; the memory broker names its host so kombu
# does not warn "No hostname was supplied" on every command.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# No broker configured: run tasks eagerly, in-process (the demo).
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "quotient")
# Keys of the progress channel (core/progress.py) in Redis; several deployments or test runs
# sharing one Redis keep apart by giving each its own prefix.
PROGRESS_KEY_PREFIX = env_str("PROGRESS_KEY_PREFIX", "quotient:progress")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "core.tasks.worker_heartbeat_task", "schedule": 30.0},
    "ingest-sweep": {"task": "incentives.tasks.ingest_sweep_task", "schedule": 60.0},
    "run-sweep": {"task": "payouts.tasks.run_sweep_task", "schedule": 30.0},
    # approvals: e-mail approvers whose step waits longer than its route's reminder window
    "approval-reminders": {"task": "payouts.tasks.approval_remind_sweep_task", "schedule": 900.0},
    "nudge-retries": {"task": "payouts.tasks.nudge_retry_sweep_task", "schedule": 60.0},
    # live runs: the change feed's safety net, and the tenants' run schedules (payouts/live.py)
    "live-sweep": {"task": "payouts.tasks.live_sweep_task", "schedule": 10.0},
    "run-schedules": {"task": "payouts.tasks.run_schedules_task", "schedule": 60.0},
}
# Seconds an unacknowledged task stays reserved before Redis hands it to another worker (a
# worker killed mid-task, acks_late): short in the kill tests, long enough for any task here.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
WORKER_HEARTBEAT_STALE_SECONDS = 120

# --- imports ------------------------------------------------------------------------------------
# An uploaded file larger than this is refused with 413; JSON/CSV request bodies are capped by
# DATA_UPLOAD_MAX_MEMORY_SIZE (larger files go as multipart uploads, streamed to disk).
INGEST_MAX_BYTES = env_int("INGEST_MAX_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024)
INGEST_JSON_MAX_ROWS = env_int("INGEST_JSON_MAX_ROWS", 50_000)
# An import whose heartbeat (renewed every few seconds while it runs) is older than this is
# presumed dead and marked failed by the sweeper (incentives.tasks.ingest_sweep_task).
INGEST_STALE_SECONDS = env_int("INGEST_STALE_SECONDS", 300)

# --- calculation runs ---------------------------------------------------------------------------
# People per chunk of a run (each chunk is one task per phase on some worker).
RUN_CHUNK_SIZE = env_int("RUN_CHUNK_SIZE", 1000)
# A chunk whose heartbeat (renewed as its task works) is older than this is presumed lost - its
# worker died, or Redis forgot the message - and the sweeper (payouts.tasks.run_sweep_task)
# sends it again; a lost chunk is re-run, never written twice.
RUN_CHUNK_STALE_SECONDS = env_int("RUN_CHUNK_STALE_SECONDS", 120)
# Live runs (payouts/live.py): a write that records keys in the change feed sends these tasks
# on commit, one pending per tenant (a key expiring after CHANGE_FEED_DEBOUNCE seconds should
# the task be lost; beat's live-sweep catches up every 10 s besides). People per live chunk:
# a changed transaction recomputes its chunk, so small chunks keep the latency down.
LIVE_RECALCULATION = env_bool("LIVE_RECALCULATION", True)
CHANGE_FEED_TASKS = ["payouts.tasks.live_recalculate_task"] if LIVE_RECALCULATION else []
CHANGE_FEED_DEBOUNCE = env_int("CHANGE_FEED_DEBOUNCE", 60)
LIVE_CHUNK_SIZE = env_int("LIVE_CHUNK_SIZE", 20)

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.auth.ApiClientAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.RolePermission"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.QuotientAutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.QuotientPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quotient API",
    "DESCRIPTION": "Incentive compensation: people, plans, credits, payouts. "
    "Authenticate with `Authorization: Bearer <api client token>` or a browser session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The areas (tags) in order with their descriptions (core/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.postprocess",
    ],
    # One named enum per choice set (several models have a "kind", "status" or "mode").
    "ENUM_NAME_OVERRIDES": {
        "TransactionKindEnum": "incentives.models.TransactionKind",
        "IngestKindEnum": "incentives.models.IngestKind",
        # the import kernel's one vocabulary, on every import batch (incentives and HR)
        "ImportModeEnum": "core.imports.ImportMode",
        "ImportStatusEnum": "core.imports.ImportStatus",
        "ImportReasonEnum": "core.imports.Reason",
        "RuleKindEnum": "incentives.models.RuleKind",
        "CreditKindEnum": "incentives.models.CreditKind",
        "KpiStatusEnum": "incentives.models.KpiStatus",
        "KpiSubjectEnum": "incentives.models.KpiSubject",
        "HierarchyKindEnum": "hierarchy.models.HierarchyKind",
        "PeriodKindEnum": "hierarchy.models.PeriodKind",
        "PeriodStatusEnum": "hierarchy.models.PeriodStatus",
        "ImportKindEnum": "hierarchy.models.ImportKind",
        "JobFunctionEnum": "hierarchy.models.JobFunction",
        "AccessRoleEnum": "core.models.Role",
        "HrImportModeEnum": [("all_or_nothing", "all_or_nothing"), ("partial", "partial")],
        # a statement's (and a roll-up's) run: final, provisional or none (payouts/statements.py)
        "StatementStatusEnum": [
            ("final", "final"),
            ("provisional", "provisional"),
            ("none", "none"),
        ],
        # approvals (payouts/api/approvals.py)
        "ApprovalStatusEnum": "payouts.models.ApprovalStatus",
        "ApproverKindEnum": "payouts.models.ApproverKind",
        "ApprovalDecisionEnum": "payouts.models.DecisionKind",
        "RunKindEnum": "payouts.models.RunKind",
        "RunStatusEnum": "payouts.models.RunStatus",
        "RunPhaseEnum": "payouts.models.RunPhase",
        "RunTriggerEnum": "payouts.models.RunTrigger",
        # disputes (payouts/api/disputes.py)
        "DisputeStatusEnum": "payouts.models.DisputeStatus",
        "DisputeQueueEnum": "payouts.models.DisputeQueue",
        "DisputeSubjectEnum": "payouts.models.DisputeSubject",
    },
}

# --- logging ------------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # tasks run in the process (no Redis: the demo): one "succeeded" line per task is noise
    "loggers": {"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {},
}
