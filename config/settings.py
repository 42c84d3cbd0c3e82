"""Settings: every value reads the environment and falls back to an embedded default.

With no environment at all the service runs on SQLite, executes Celery tasks in-process
and keeps secrets in the local encrypted store. Set DATABASE_URL, REDIS_URL and
CELERY_BROKER_URL to run the same code on PostgreSQL and Redis.
"""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# --- core -------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-insecure-change-me-0123456789abcdef")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "integrations",
    "communication",
    "webhooks",
    "iot",
    "sync",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent web + in-process tasks on SQLite: wait for the write lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

# --- redis, cache, celery ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL, "KEY_PREFIX": "hub"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# No broker configured: tasks run in-process, which is the embedded default.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
# Celery's Django fixup closes the database connection before and after every task unless
# told how many tasks may share one; a new PostgreSQL connection per task costs more than
# most tasks do (bench/sends.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Synced into django-celery-beat's tables at beat start, so ops see and change them in the admin.
CELERY_BEAT_SCHEDULE = {
    "payments-requeue-stale": {"task": "integrations.tasks.payments_requeue_stale", "schedule": 60.0},
    "messages-requeue-stale": {"task": "communication.tasks.messages_requeue_stale", "schedule": 60.0},
    "webhooks-outbox-fan-out": {"task": "webhooks.tasks.outbox_fan_out",
                                "schedule": env.float("WEBHOOK_BEAT_SECONDS", default=5.0)},
    "webhooks-deliveries-due": {"task": "webhooks.tasks.deliveries_dispatch_due",
                                "schedule": env.float("WEBHOOK_BEAT_SECONDS", default=5.0)},
    "webhooks-inbound-due": {"task": "webhooks.tasks.inbound_events_dispatch_due", "schedule": 15.0},
    "sync-runs-resume-stale": {"task": "sync.tasks.sync_runs_resume_stale", "schedule": 60.0},
    "iot-devices-mark-offline": {"task": "iot.tasks.devices_mark_offline", "schedule": 30.0},
    "iot-highlight-clips-reconcile": {"task": "iot.tasks.highlight_clips_reconcile", "schedule": 60.0},
    "iot-processed-messages-purge": {"task": "iot.tasks.processed_messages_purge", "schedule": 3600.0},
    "iot-sessions-reconcile": {"task": "iot.tasks.sessions_reconcile", "schedule": 600.0},
}
CELERY_TIMEZONE = "UTC"

# --- auth, api --------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = []
LOGIN_URL = "admin:login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.auth.ApiKeyAuthentication",
        "config.auth.OIDCAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.auth.HasTenantScope"],
    "DEFAULT_PAGINATION_CLASS": "config.api.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Integration Hub API",
    "DESCRIPTION": "Integrations, communication, webhooks and court operations for sports federations and clubs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# OIDC bearer tokens (Keycloak-compatible). Disabled while OIDC_ISSUER is empty.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="")
OIDC_AUDIENCE = env.str("OIDC_AUDIENCE", default="integration-hub")
OIDC_JWKS_URL = env.str("OIDC_JWKS_URL", default="")  # default: <issuer>/protocol/openid-connect/certs
OIDC_TENANT_CLAIM = env.str("OIDC_TENANT_CLAIM", default="tenant_id")
OIDC_JWKS_CACHE_SECONDS = env.int("OIDC_JWKS_CACHE_SECONDS", default=300)
OIDC_LEEWAY_SECONDS = env.int("OIDC_LEEWAY_SECONDS", default=30)
OIDC_ROLE_SCOPES = json.loads(env.str("OIDC_ROLE_SCOPES", default=json.dumps({
    "hub-admin": ["*"],
    "hub-writer": ["*:read", "*:write"],
    "hub-reader": ["*:read"],
})))
if not isinstance(OIDC_ROLE_SCOPES, dict):
    raise ImproperlyConfigured("OIDC_ROLE_SCOPES must be a JSON object of role -> [scope, ...]")

# --- secrets ----------------------------------------------------------------------------
# Key for the local encrypted secret store (Fernet, urlsafe base64 of 32 bytes). The embedded
# default derives one from SECRET_KEY so development needs nothing; production sets its own.
LOCAL_SECRETS_KEY = env.str("LOCAL_SECRETS_KEY", default="")
if LOCAL_SECRETS_KEY:
    from cryptography.fernet import Fernet

    try:
        Fernet(LOCAL_SECRETS_KEY)
    except ValueError:
        # `from None`: the rejected value is itself a secret and must not reach a traceback.
        raise ImproperlyConfigured("LOCAL_SECRETS_KEY must be urlsafe base64 of 32 bytes, "
                                   "as Fernet.generate_key() prints") from None
AZURE_KEYVAULT_URL_TEMPLATE = env.str("AZURE_KEYVAULT_URL_TEMPLATE", default="https://{vault}.vault.azure.net")
SECRETS_CACHE_SECONDS = env.int("SECRETS_CACHE_SECONDS", default=60)
SECRETS_ENV_REFS_ENABLED = env.bool("SECRETS_ENV_REFS_ENABLED", default=True)
SECRETS_ENV_PREFIX = env.str("SECRETS_ENV_PREFIX", default="HUB_SECRET_")

# --- providers --------------------------------------------------------------------------
# Every provider base URL is PROVIDER_<NAME>_BASE_URL (and PROVIDER_<NAME>_TOKEN_URL where the
# provider has one); adapters.registry reads them through config.providers.provider_url().
PROVIDER_HTTP_TIMEOUT_SECONDS = env.float("PROVIDER_HTTP_TIMEOUT_SECONDS", default=10.0)
# Providers implementing the hub's own interfaces (WADA ADAMS, insurance, registries) are
# reached over https only; plain http to 127.0.0.1/localhost is allowed when DEBUG is on or
# this is set (local development and tests).
PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST = env.bool("PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST",
                                                   default=False)
RESILIENCE_RETRY_ATTEMPTS = env.int("RESILIENCE_RETRY_ATTEMPTS", default=3)
RESILIENCE_RETRY_INITIAL_WAIT_SECONDS = env.float("RESILIENCE_RETRY_INITIAL_WAIT_SECONDS", default=0.5)
RESILIENCE_RETRY_MAX_WAIT_SECONDS = env.float("RESILIENCE_RETRY_MAX_WAIT_SECONDS", default=30.0)
# Task-level retries (after the in-call ones): countdown TASK_RETRY_BASE_SECONDS * 2**n.
TASK_MAX_RETRIES = env.int("TASK_MAX_RETRIES", default=5)
TASK_RETRY_BASE_SECONDS = env.float("TASK_RETRY_BASE_SECONDS", default=30.0)
# Rows left queued (a lost broker message) or claimed by a worker that died are re-enqueued.
STALE_QUEUED_SECONDS = env.int("STALE_QUEUED_SECONDS", default=60)
STALE_CLAIM_SECONDS = env.int("STALE_CLAIM_SECONDS", default=300)
RESILIENCE_BREAKER_FAIL_MAX = env.int("RESILIENCE_BREAKER_FAIL_MAX", default=5)
RESILIENCE_BREAKER_RESET_SECONDS = env.int("RESILIENCE_BREAKER_RESET_SECONDS", default=60)
CREDENTIAL_FAILURES_BEFORE_ERROR = env.int("CREDENTIAL_FAILURES_BEFORE_ERROR", default=3)

# --- webhooks ---------------------------------------------------------------------------
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
# Inbound: how long a config and its resolved verification secrets stay cached per process
# (a decommissioned config may still receive for this long), and the signed-time window.
WEBHOOK_CONFIG_CACHE_SECONDS = env.float("WEBHOOK_CONFIG_CACHE_SECONDS", default=10.0)
WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS = env.int("WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS", default=300)
# 46elks signs nothing: besides the URL token, callbacks may be limited to these source
# networks (a config's own webhook_allowed_networks wins). Empty: any address.
WEBHOOK_ELKS46_ALLOWED_NETWORKS = env.list("WEBHOOK_ELKS46_ALLOWED_NETWORKS", default=[])
WEBHOOK_HANDLER_MAX_ATTEMPTS = env.int("WEBHOOK_HANDLER_MAX_ATTEMPTS", default=5)
WEBHOOK_HANDLER_RETRY_BASE_SECONDS = env.float("WEBHOOK_HANDLER_RETRY_BASE_SECONDS", default=30.0)
# Outbound: the wait before each retry (Standard Webhooks' suggested schedule), jittered.
WEBHOOK_RETRY_SCHEDULE_SECONDS = [int(v) for v in env.list(
    "WEBHOOK_RETRY_SCHEDULE_SECONDS", default=["5", "300", "1800", "7200", "18000", "36000", "36000"])]
WEBHOOK_ENDPOINT_DISABLE_AFTER = timedelta(seconds=env.int("WEBHOOK_ENDPOINT_DISABLE_AFTER_SECONDS",
                                                           default=5 * 24 * 3600))
WEBHOOK_DELIVERY_TIMEOUT_SECONDS = env.float("WEBHOOK_DELIVERY_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_SECRET_ROTATION_OVERLAP = timedelta(seconds=env.int("WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS",
                                                            default=24 * 3600))
WEBHOOK_BEAT_SECONDS = env.float("WEBHOOK_BEAT_SECONDS", default=5.0)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(WEBHOOK_MAX_BODY_BYTES + 1, 2_621_440)

# --- sync -------------------------------------------------------------------------------
# Records per chunk a run reads and looks up in the sync log at once; heartbeats at most this
# often; a running run silent for SYNC_STALE_RUN_SECONDS belongs to a dead worker and is resumed.
SYNC_CHUNK_SIZE = env.int("SYNC_CHUNK_SIZE", default=200)
SYNC_HEARTBEAT_SECONDS = env.float("SYNC_HEARTBEAT_SECONDS", default=5.0)
SYNC_STALE_RUN_SECONDS = env.int("SYNC_STALE_RUN_SECONDS", default=120)
# A provider event about a record the hub synchronised this close in time is our own echo.
SYNC_ECHO_WINDOW_SECONDS = env.int("SYNC_ECHO_WINDOW_SECONDS", default=300)

# --- oauth connect ----------------------------------------------------------------------
# Origins a client may name as the OAuth redirect_uri; empty means PUBLIC_BASE_URL only.
OAUTH_REDIRECT_ALLOWED_ORIGINS = env.list("OAUTH_REDIRECT_ALLOWED_ORIGINS", default=[])
OAUTH_STATE_TTL_SECONDS = env.int("OAUTH_STATE_TTL_SECONDS", default=600)

# --- mqtt -------------------------------------------------------------------------------
MQTT_BROKER_URL = env.str("MQTT_BROKER_URL", default="mqtt://127.0.0.1:1883")
MQTT_USERNAME = env.str("MQTT_USERNAME", default="")
MQTT_PASSWORD = env.str("MQTT_PASSWORD", default="")
MQTT_CLIENT_ID = env.str("MQTT_CLIENT_ID", default="hub-ingest")
MQTT_TLS_CA_FILE = env.str("MQTT_TLS_CA_FILE", default="")
# Ingesters sharing this group split the messages ($share/<group>/...); empty: plain subscriptions.
MQTT_SHARED_GROUP = env.str("MQTT_SHARED_GROUP", default="hub-ingest")
# How a topic names its tenant: "slug" (`<tenant-slug>/court/+/checkin`), "registry" (bare
# `court/+/checkin`, tenant found from the device registry) or "both". See iot/topics.py.
MQTT_TENANT_PREFIXES = env.str("MQTT_TENANT_PREFIXES", default="both")
# The broker keeps the ingester's session (subscriptions, unacknowledged messages) this long.
MQTT_SESSION_EXPIRY_SECONDS = env.int("MQTT_SESSION_EXPIRY_SECONDS", default=7 * 24 * 3600)
# Unacknowledged QoS 1 messages the broker may have in flight to one ingester (MQTT 5 Receive Maximum).
MQTT_RECEIVE_MAXIMUM = env.int("MQTT_RECEIVE_MAXIMUM", default=1000)
MQTT_KEEPALIVE_SECONDS = env.int("MQTT_KEEPALIVE_SECONDS", default=30)
MQTT_RECONNECT_MAX_SECONDS = env.int("MQTT_RECONNECT_MAX_SECONDS", default=30)

# --- iot --------------------------------------------------------------------------------
IOT_INGEST_WORKERS = env.int("IOT_INGEST_WORKERS", default=8)
IOT_INGEST_HEALTH_HOST = env.str("IOT_INGEST_HEALTH_HOST", default="127.0.0.1")
IOT_INGEST_HEALTH_PORT = env.int("IOT_INGEST_HEALTH_PORT", default=9108)  # 0: no health server
IOT_INGEST_DRAIN_SECONDS = env.float("IOT_INGEST_DRAIN_SECONDS", default=10.0)
# Heartbeats are coalesced in memory and written with one UPDATE per flush.
IOT_HEARTBEAT_FLUSH_MS = env.int("IOT_HEARTBEAT_FLUSH_MS", default=200)
IOT_HEARTBEAT_FLUSH_MAX = env.int("IOT_HEARTBEAT_FLUSH_MAX", default=1000)
IOT_DEVICE_OFFLINE_AFTER_SECONDS = env.int("IOT_DEVICE_OFFLINE_AFTER_SECONDS", default=180)
IOT_DEVICE_REGISTRY_CACHE_SECONDS = env.float("IOT_DEVICE_REGISTRY_CACHE_SECONDS", default=30.0)
IOT_ACCESS_CONFIG_CACHE_SECONDS = env.float("IOT_ACCESS_CONFIG_CACHE_SECONDS", default=5.0)
# Sessions open this long are checked against Ziggy (a lost check-out webhook) by beat.
IOT_SESSION_RECONCILE_AFTER_MINUTES = env.int("IOT_SESSION_RECONCILE_AFTER_MINUTES", default=30)
# Processed-message ids are kept longer than any redelivery can come (the MQTT session expiry).
IOT_PROCESSED_MESSAGE_RETENTION_HOURS = env.int("IOT_PROCESSED_MESSAGE_RETENTION_HOURS", default=8 * 24)
# Kept free of a reader's response timeout for our own work around the access-control call.
IOT_READER_RESPONSE_MARGIN_MS = env.int("IOT_READER_RESPONSE_MARGIN_MS", default=300)
IOT_HIGHLIGHT_LEAD_SECONDS = env.float("IOT_HIGHLIGHT_LEAD_SECONDS", default=10.0)
IOT_HIGHLIGHT_DURATION_SECONDS = env.float("IOT_HIGHLIGHT_DURATION_SECONDS", default=30.0)
IOT_CONSUMPTION_CURRENCY = env.str("IOT_CONSUMPTION_CURRENCY", default="BRL")

# --- logging ----------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "config.logging.RedactSecretsFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
