"""Django settings, all read from the environment.

Embedded default (nothing set): an SQLite file under ``var/``; ``make run`` (scripts/serve.sh) adds a local queue in
files (``CELERY_BROKER_URL=filesystem://``) and one local worker; with no broker at all tasks run eagerly in-process.
Team deployment: set ``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` (Redis) and run workers.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .env import deployment_secret_key, env_bool, env_list, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("HANAS_VAR_DIR", BASE_DIR / "var"))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or not os.environ.get("DATABASE_URL"):
        # Embedded default on one machine (or DEBUG): a random key generated once per deployment and kept in
        # HANAS_VAR_DIR/secret_key (mode 0600), never a key published in the source.
        SECRET_KEY = deployment_secret_key(VAR_DIR / "secret_key")
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when running against DATABASE_URL with DEBUG off")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# IBM Quantum access for live calibration ingest (optional).
IBM_QUANTUM_TOKEN = os.environ.get("IBM_QUANTUM_TOKEN", "")
IBM_QUANTUM_CHANNEL = os.environ.get("IBM_QUANTUM_CHANNEL", "ibm_quantum_platform")
IBM_QUANTUM_INSTANCE = os.environ.get("IBM_QUANTUM_INSTANCE", "")
# Backends the periodic task ingests (comma-separated names).
IBM_INGEST_BACKENDS = env_list("IBM_INGEST_BACKENDS", [])
IBM_INGEST_INTERVAL_HOURS = float(os.environ.get("IBM_INGEST_INTERVAL_HOURS", "6"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "benchmarks_app",
    "search_app",
    "profiles_app",
    "drift_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (Swagger UI, dashboard assets) served by the platform itself, also with DEBUG off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hanas_platform.urls"
WSGI_APPLICATION = "hanas_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", BASE_DIR / "hanas_platform" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": parse_database_url(DATABASE_URL)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Several processes write (web workers, the local Celery worker): WAL lets readers run beside the writer;
    # BEGIN IMMEDIATE takes the write lock when a transaction starts, so a waiting writer sleeps in the busy
    # timeout instead of failing at once with "database is locked" (a deferred transaction that upgrades its
    # read lock to a write lock cannot wait); synchronous=NORMAL is the safe setting for WAL.
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "hanas.sqlite3"),
                             "OPTIONS": {"timeout": float(os.environ.get("HANAS_SQLITE_TIMEOUT", "30")),
                                         "transaction_mode": "IMMEDIATE",
                                         "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"}}}
EMBEDDED_DATABASE = not DATABASE_URL
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
# CELERY_BROKER_URL=filesystem:// is the local queue `make run` uses on the embedded default: message files under
# HANAS_VAR_DIR/broker, no server; one local worker (scripts/serve.sh) consumes them. Unset: tasks run eagerly
# in the calling process (tests, one-off commands); CELERY_TASK_ALWAYS_EAGER=1 forces that with any broker.
CELERY_LOCAL_BROKER = CELERY_BROKER_URL.startswith("filesystem:")
CELERY_EAGER = not CELERY_BROKER_URL or env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis: an unacknowledged task (its worker was killed) is redelivered after this many seconds. It must
    # exceed the longest task and countdown (estimates, one candidate's training, the 30 s search watchdog);
    # 3600 s stalled a search up to an hour after a worker SIGKILL (issue 17). Redelivered tasks are idempotent.
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300")),
    # Publishing while the broker is down: give up after ~2 s (the API answers 503, the job is marked failed)
    # instead of blocking the request ~20 s.
    "socket_connect_timeout": float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "2")),
    "socket_timeout": float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "10")),
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
# Work queued from requests is published with ignore_result (hanas_platform.dispatch.send): its outcome is a
# database row, and a POST then does not subscribe to the result store (with Redis down that retried 20 x 1 s
# before failing). Reconnecting to the result store is bounded too.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 2, "interval_start": 0,
                                                            "interval_step": 0.5, "interval_max": 1}}
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECT_TIMEOUT", "2"))
# Workers keep retrying the broker forever (they must come back after an outage).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
if CELERY_LOCAL_BROKER:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"), "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"), "polling_interval": 0.2}
    CELERY_BROKER_TRANSPORT = "hanas_platform.fsbroker:Transport"  # kombu's, with atomic message writes
if CELERY_EAGER:
    CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = True
    CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "cache+memory://")
else:
    CELERY_TASK_ALWAYS_EAGER = False
    # The platform keeps every result in the database (Job / SearchRun rows); the local queue has no result store.
    CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND",
                                           None if CELERY_LOCAL_BROKER else CELERY_BROKER_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Late acknowledgement: a task whose worker dies mid-run is redelivered, not lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict = {}

# --- REST API -------------------------------------------------------------------------------------
# Reads may be public (HANAS_PUBLIC_READS=1, the default); every write needs an authenticated user.
PUBLIC_READS = env_bool("HANAS_PUBLIC_READS", True)
# Dashboard pages follow the same rule: anonymous visitors go to this login page when reads are not public.
LOGIN_URL = "rest_framework:login"
LOGIN_REDIRECT_URL = "dashboard-home"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly" if PUBLIC_READS
        else "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "hanas_platform.pagination.Pagination",
    "PAGE_SIZE": int(os.environ.get("HANAS_PAGE_SIZE", "50")),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "hanas_platform.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hyb-HANAS platform API",
    "DESCRIPTION": "Calibration store, hardware-calibrated quantum/classical cost estimates, "
                   "and hardware-aware hybrid NAS search runs.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI / Redoc assets from the drf-spectacular-sidecar package: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # every operation documents its JSON error answers (400/401/403/404, 413 on writes): hanas_platform.api
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "hanas_platform.api.add_error_responses"],
}
# ?page_size= is honoured up to this many rows a page.
HANAS_MAX_PAGE_SIZE = int(os.environ.get("HANAS_MAX_PAGE_SIZE", "500"))

# Limits on user-submitted circuits (issue: REST estimates).
HANAS_MAX_CIRCUIT_QUBITS = int(os.environ.get("HANAS_MAX_CIRCUIT_QUBITS", "156"))
HANAS_MAX_CIRCUIT_GATES = int(os.environ.get("HANAS_MAX_CIRCUIT_GATES", "20000"))
HANAS_MAX_CIRCUIT_BYTES = int(os.environ.get("HANAS_MAX_CIRCUIT_BYTES", str(512 * 1024)))
# Datasets uploaded for searches (issue 17): size, columns and classes limits.
HANAS_MAX_DATASET_BYTES = int(os.environ.get("HANAS_MAX_DATASET_BYTES", str(2 * 1024 * 1024)))
HANAS_MAX_DATASET_COLUMNS = int(os.environ.get("HANAS_MAX_DATASET_COLUMNS", "1024"))
HANAS_MAX_DATASET_CLASSES = int(os.environ.get("HANAS_MAX_DATASET_CLASSES", "100"))
# CSV export (?format=csv) of list endpoints: at most this many rows (issue 17).
HANAS_CSV_MAX_ROWS = int(os.environ.get("HANAS_CSV_MAX_ROWS", "10000"))
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", str(32 * 1024 * 1024)))
# Multipart uploads (DATA_UPLOAD_MAX_MEMORY_SIZE does not count files): calibration files over this answer 413.
HANAS_MAX_UPLOAD_BYTES = int(os.environ.get("HANAS_MAX_UPLOAD_BYTES", str(16 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("FILE_UPLOAD_MAX_MEMORY_SIZE", str(2_621_440)))

# --- i18n / static --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
# Dashboard assets: hanas_platform/static (base CSS/JS) and the plotly.min.js bundle from the plotly package.
STATICFILES_DIRS = [BASE_DIR / "hanas_platform" / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "hanas_platform.staticfinders.PackageAssetFinder",
]
# WhiteNoise finds files straight from the apps' static folders, so no collectstatic is needed to serve them.
WHITENOISE_USE_FINDERS = True
try:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError:  # read-only deployments collect static files at build time instead
    pass
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security when DEBUG is off ---------------------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = False
    X_FRAME_OPTIONS = "DENY"
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    if env_bool("HANAS_HTTPS", False):
        SESSION_COOKIE_SECURE = True
        CSRF_COOKIE_SECURE = True
        SECURE_SSL_REDIRECT = True
        SECURE_HSTS_SECONDS = 3600
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "qiskit": {"level": "WARNING"},
                "qiskit_ibm_runtime": {"level": "WARNING"}, "celery.app.trace": {"level": "WARNING"},
                "kombu.connection": {"level": "ERROR"}},
}

# Periodic calibration ingest default interval (used by benchmarks_app when seeding the beat schedule).
HANAS_INGEST_INTERVAL = timedelta(hours=IBM_INGEST_INTERVAL_HOURS)

# Search loop watchdog: how often a stalled generation is re-checked (lost triggers, redelivered tasks).
HANAS_SEARCH_WATCHDOG_SECONDS = float(os.environ.get("HANAS_SEARCH_WATCHDOG_SECONDS", "30"))
# A generation still incomplete after this long has its unevaluated genomes dispatched again (lost messages).
HANAS_SEARCH_REDISPATCH_SECONDS = float(os.environ.get("HANAS_SEARCH_REDISPATCH_SECONDS", "900"))

# Torch threads per worker pool process. Parallelism comes from processes (more pool processes, more workers);
# with several processes per machine, torch's default of one thread per core oversubscribes the cores and
# made the default search ~20x slower with 2 workers on 2 cores.
HANAS_WORKER_TORCH_THREADS = int(os.environ.get("HANAS_WORKER_TORCH_THREADS", "1"))

# Estimates: answered synchronously while qubits x operations stays under this, else 202 + a job URL.
HANAS_SYNC_ESTIMATE_MAX_WORK = int(os.environ.get("HANAS_SYNC_ESTIMATE_MAX_WORK", "20000"))
# Cost trends compute up to this many missing points in the request; more go to a background job.
HANAS_SYNC_TREND_MAX_MISSING = int(os.environ.get("HANAS_SYNC_TREND_MAX_MISSING", "5"))
# Profile fits over REST with more observed jobs than this answer 202 and run on a worker (profiles_app)
HANAS_SYNC_FIT_MAX_ROWS = int(os.environ.get("HANAS_SYNC_FIT_MAX_ROWS", "200"))

# Stale-work sweep (benchmarks_app.sweep_stale_work, run by beat every HANAS_SWEEP_INTERVAL_SECONDS; seeded in the
# beat schedule by a migration): a Job or SearchRun untouched this long after its task was queued is queued
# again (its message was lost: broker restarted, worker killed on the local queue); still queued after
# HANAS_QUEUED_MAX_SECONDS it fails with a clear error.
HANAS_SWEEP_INTERVAL_SECONDS = int(os.environ.get("HANAS_SWEEP_INTERVAL_SECONDS", "60"))
HANAS_STALE_QUEUED_SECONDS = float(os.environ.get("HANAS_STALE_QUEUED_SECONDS", "120"))
HANAS_QUEUED_MAX_SECONDS = float(os.environ.get("HANAS_QUEUED_MAX_SECONDS", str(6 * 3600)))

# Drift watch webhooks (drift_app): exponential backoff base and cap, attempts, and the POST timeout.
HANAS_WEBHOOK_BACKOFF_S = float(os.environ.get("HANAS_WEBHOOK_BACKOFF_S", "30"))
HANAS_WEBHOOK_BACKOFF_MAX_S = float(os.environ.get("HANAS_WEBHOOK_BACKOFF_MAX_S", "3600"))
HANAS_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("HANAS_WEBHOOK_MAX_ATTEMPTS", "8"))
HANAS_WEBHOOK_TIMEOUT_S = float(os.environ.get("HANAS_WEBHOOK_TIMEOUT_S", "10"))
# A pending delivery this overdue is queued again by the beat task drift_app.redispatch_due_deliveries.
HANAS_WEBHOOK_REDISPATCH_AFTER_S = float(os.environ.get("HANAS_WEBHOOK_REDISPATCH_AFTER_S", "60"))
