"""Ledgerdoc settings: every knob comes from the environment, with a safe embedded default."""

from datetime import timedelta
from pathlib import Path

import environ

from config.keys import local_rsa_private_pem, local_secret, public_pem_of

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

# --- Core -------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or local_secret(VAR_DIR, "secret_key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute URLs (presigned upload URLs) are built from the request unless this is set.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")
# Behind a reverse proxy: how many proxies append to X-Forwarded-For (throttling keys on the client
# address), and whether the proxy terminates TLS and says so in X-Forwarded-Proto.
NUM_PROXIES = env.int("NUM_PROXIES", default=None)
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True

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
    "apps.core",
    "apps.accounts",
    "apps.records",
    "apps.erp",
    "apps.workflow",
    "apps.uploads",
    "apps.dms",
    "apps.processes",
    "apps.webhooks",
    "apps.ui",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy, outside the admin (apps.core.security_headers).
    "apps.core.security_headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # NUL and lone surrogates in the path, query, headers, cookies, UI forms: 400 (apps.core.middleware).
    "apps.core.middleware.UnstorableTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Django's defaults, said here because the security tests count on them (tests/ui/test_security_headers.py).
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The UI's CSRF failure in its own page: Django's has an inline style that the UI's policy refuses.
CSRF_FAILURE_VIEW = "apps.ui.csrf.csrf_failure_view"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

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

# --- Database ---------------------------------------------------------------------------------
# DATABASE_URL, or (when it is unset) PostgreSQL named part by part: DATABASE_HOST, DATABASE_PORT,
# DATABASE_NAME, DATABASE_USER, DATABASE_PASSWORD, as compose.yaml passes them. A password put into a
# URL must be percent-encoded (@ : / # % ? would break it); one given on its own is taken as is
# (read from os.environ: django-environ would take a leading "$" for a reference to another variable).
if not env.str("DATABASE_URL", default="") and env.str("DATABASE_HOST", default=""):
    import os

    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": env.str("DATABASE_HOST"),
        "PORT": env.str("DATABASE_PORT", default="5432"),
        "NAME": os.environ.get("DATABASE_NAME") or "ledgerdoc",
        "USER": os.environ.get("DATABASE_USER") or "ledgerdoc",
        "PASSWORD": os.environ.get("DATABASE_PASSWORD", ""),
    }}
else:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a health check that costs no round trip (apps.core.db.postgresql).
        DATABASES["default"]["ENGINE"] = "apps.core.db.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Names this process's connections in pg_stat_activity (which node or worker holds a lock).
    if env.str("DATABASE_APPLICATION_NAME", default=""):
        DATABASES["default"].setdefault("OPTIONS", {})["application_name"] = env.str(
            "DATABASE_APPLICATION_NAME"
        )
# Upload locks on PostgreSQL live on one direct connection per process (apps.uploads.locks): set
# LOCK_DATABASE_URL when DATABASE_URL goes through a transaction pooler (PgBouncer
# pool_mode=transaction), to reach PostgreSQL past it; its database name, when given, must be the
# same for every process. Unset: the default database's own settings.
LOCK_DATABASE = env.db("LOCK_DATABASE_URL", default="") if env.str("LOCK_DATABASE_URL", default="") else {}
# What DATABASE_URL reaches: PostgreSQL itself (none), or a pooler that hands each client a server
# connection per transaction (transaction: PgBouncer pool_mode=transaction, most managed poolers)
# or per client connection (session). A transaction pooler keeps no state of a connection between
# transactions, so: no SQL-level PREPARE (apps.core.prepared sends statements plain), no server-side
# cursors (.iterator() reads the whole result), and the upload locks need LOCK_DATABASE_URL straight
# to PostgreSQL (checked here). README "Connections and PgBouncer".
DATABASE_POOLER = env.str("DATABASE_POOLER", default="none").strip().lower() or "none"
if DATABASE_POOLER not in {"none", "transaction", "session"}:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"DATABASE_POOLER={DATABASE_POOLER!r}: expected none, transaction or session"
    )
# Protocol-level prepared statements (psycopg's server-side binding, prepared after
# DATABASE_PREPARE_THRESHOLD executions): PgBouncer >= 1.21 with max_prepared_statements keeps them
# per server connection; older poolers fail with them. Off by default, untested here (PgBouncer 1.18).
DATABASE_PROTOCOL_PREPARE = env.bool("DATABASE_PROTOCOL_PREPARE", default=False)
if DATABASES["default"]["ENGINE"] == "apps.core.db.postgresql":
    _db_options = DATABASES["default"].setdefault("OPTIONS", {})
    if DATABASE_PROTOCOL_PREPARE:  # else Django's own default: psycopg never prepares
        _db_options["server_side_binding"] = True
        _db_options["prepare_threshold"] = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
    if DATABASE_POOLER == "transaction":
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        # Startup parameters a pooler refuses (PgBouncer: "unsupported startup parameter"), such
        # as options=-c statement_timeout=...: set those on the role or database instead
        # (ALTER ROLE ... SET statement_timeout), or per transaction with SET LOCAL.
        if "options" in _db_options:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                "DATABASE_POOLER=transaction: DATABASE_URL's 'options' (-c ...) are startup "
                "parameters a transaction pooler refuses or cannot keep; set them with ALTER ROLE "
                "... SET on the server instead"
            )
        if not LOCK_DATABASE:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                "DATABASE_POOLER=transaction needs LOCK_DATABASE_URL, a direct connection to "
                "PostgreSQL for the upload locks (session-level advisory locks, which a "
                "transaction pooler cannot keep)"
            )
        if (LOCK_DATABASE.get("HOST"), str(LOCK_DATABASE.get("PORT") or 5432)) == (
            DATABASES["default"].get("HOST"), str(DATABASES["default"].get("PORT") or 5432)
        ):
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                "LOCK_DATABASE_URL reaches the same host and port as DATABASE_URL, which goes "
                "through a transaction pooler (DATABASE_POOLER=transaction): point it at "
                "PostgreSQL itself"
            )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache --------------------------------------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://ledgerdoc")}

# --- Passwords, i18n, static --------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))

# --- Storage ------------------------------------------------------------------------------------
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="local")  # local | s3
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="ledgerdoc")
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="us-east-1")
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=300)
AWS_S3_FILE_OVERWRITE = True
AWS_S3_SIGNATURE_VERSION = "s3v4"

if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": AWS_S3_ENDPOINT_URL,
            "access_key": AWS_ACCESS_KEY_ID,
            "secret_key": AWS_SECRET_ACCESS_KEY,
            "region_name": AWS_S3_REGION_NAME,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Uploads ------------------------------------------------------------------------------------
UPLOAD_MAX_FILE_SIZE = env.int("UPLOAD_MAX_FILE_SIZE", default=10 * 1024**3)  # 10 GiB
UPLOAD_MAX_CHUNK_SIZE = env.int("UPLOAD_MAX_CHUNK_SIZE", default=64 * 1024**2)
UPLOAD_MIN_CHUNK_SIZE = env.int("UPLOAD_MIN_CHUNK_SIZE", default=1)
UPLOAD_MAX_CHUNKS = env.int("UPLOAD_MAX_CHUNKS", default=10_000)
UPLOAD_DEFAULT_EXPIRY_SECONDS = env.int("UPLOAD_DEFAULT_EXPIRY_SECONDS", default=24 * 3600)
UPLOAD_MAX_EXPIRY_SECONDS = env.int("UPLOAD_MAX_EXPIRY_SECONDS", default=7 * 24 * 3600)
UPLOAD_READ_BUFFER = env.int("UPLOAD_READ_BUFFER", default=1024 * 1024)
# The most bytes one write() of a chunk into a local file hands the kernel: on the CI machine kind
# (Linux 6.18 in a VM) 1 MiB writes into the page cache ran several times slower than 128 KiB ones.
UPLOAD_WRITE_PIECE = env.int("UPLOAD_WRITE_PIECE", default=128 * 1024)
UPLOAD_ASJSON_MAX_BYTES = env.int("UPLOAD_ASJSON_MAX_BYTES", default=10 * 1024**2)  # GET .../file?asJson
# A chunk body read that gets no byte for this long ends the request (its claim is released).
UPLOAD_BODY_IDLE_TIMEOUT = env.float("UPLOAD_BODY_IDLE_TIMEOUT", default=30.0)
# How long a request for a busy chunk waits for the request holding it to stop (lock release).
UPLOAD_LOCK_WAIT = env.float("UPLOAD_LOCK_WAIT", default=5.0)
# Chunk locks without PostgreSQL (embedded mode): flock files here (default VAR_DIR/upload-locks).
UPLOAD_LOCK_DIR = env.str("UPLOAD_LOCK_DIR", default="")
# The longest a finalize may run (soft limit; the broker's visibility timeout covers twice that).
UPLOAD_FINALIZE_TIME_LIMIT = env.int("UPLOAD_FINALIZE_TIME_LIMIT", default=1800)
# With a broker, purge enqueues finalize again for uploads PROCESSING this long with no live
# finalizer (a worker died); the embedded mode does so at once, at the next purge or start.
UPLOAD_FINALIZE_STALE_SECONDS = env.int("UPLOAD_FINALIZE_STALE_SECONDS", default=120)
# Direct-to-S3 uploads (/api/v1/s3/multipart, S3 storage only): the browser PUTs its parts to S3
# with presigned URLs that S3 honours this long (seconds, at most 900: they cannot be revoked).
S3_DIRECT_UPLOADS = env.bool("S3_DIRECT_UPLOADS", default=True)
S3_DIRECT_URL_EXPIRY_SECONDS = min(env.int("S3_DIRECT_URL_EXPIRY_SECONDS", default=600), 900)
# POST /api/v1/models/{table}/{id}/attachments/zip: caps checked before a byte is stored (413).
ATTACHMENT_ZIP_MAX_ENTRIES = env.int("ATTACHMENT_ZIP_MAX_ENTRIES", default=1000)
ATTACHMENT_ZIP_MAX_ENTRY_SIZE = env.int("ATTACHMENT_ZIP_MAX_ENTRY_SIZE", default=UPLOAD_MAX_FILE_SIZE)
ATTACHMENT_ZIP_MAX_TOTAL_SIZE = env.int("ATTACHMENT_ZIP_MAX_TOTAL_SIZE", default=1024**3)
ATTACHMENT_ZIP_MAX_RATIO = env.int("ATTACHMENT_ZIP_MAX_RATIO", default=100)
ATTACHMENT_ZIP_RATIO_MIN_SIZE = env.int("ATTACHMENT_ZIP_RATIO_MIN_SIZE", default=1024**2)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=32 * 1024**2)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024**2)
FILE_NAME_MAX_LENGTH = 200
DOWNLOAD_REDIRECT_TO_S3 = env.bool("DOWNLOAD_REDIRECT_TO_S3", default=False)

# --- Thumbnails (apps/dms) -------------------------------------------------------------------------
# Each render runs in a child process: images over this many pixels (read from the header; a JPEG
# counts at the 1/2-1/8 scale it is decoded at) get no thumbnail; a PDF page is rendered at a scale
# that fits it; the child is killed after THUMBNAIL_MAX_SECONDS and may map THUMBNAIL_MEMORY_LIMIT
# bytes at most (RLIMIT_AS). A render that never came back is tried THUMBNAIL_MAX_ATTEMPTS times.
THUMBNAIL_MAX_PIXELS = env.int("THUMBNAIL_MAX_PIXELS", default=40_000_000)
THUMBNAIL_MAX_SECONDS = env.float("THUMBNAIL_MAX_SECONDS", default=20.0)
THUMBNAIL_MEMORY_LIMIT = env.int("THUMBNAIL_MEMORY_LIMIT", default=512 * 1024**2)
THUMBNAIL_MAX_ATTEMPTS = env.int("THUMBNAIL_MAX_ATTEMPTS", default=2)

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis redelivers an unacknowledged task after this long: longer than any finalize may run, so a
# running finalize is never delivered twice; a dead worker's task is picked up by the purge sooner.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * UPLOAD_FINALIZE_TIME_LIMIT)
}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="ledgerdoc")
CELERY_BEAT_SCHEDULE: dict = {}  # apps add their periodic tasks in their AppConfig.ready()

# --- Processes and reports (apps/processes) -------------------------------------------------------
REPORT_FILE_TTL_SECONDS = env.int("REPORT_FILE_TTL_SECONDS", default=3600)  # GET /api/v1/files/{id}
PROCESS_JOB_TIME_LIMIT = env.int("PROCESS_JOB_TIME_LIMIT", default=600)  # Celery soft limit of a job
PROCESS_JOB_STALE_SECONDS = env.int("PROCESS_JOB_STALE_SECONDS", default=300)  # QUEUED this long: again

# --- Outbound webhooks (apps/webhooks) ----------------------------------------------------------
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)  # loopback, LAN
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
# How long saving a subscription waits for DNS to judge its host (no answer: the delivery check decides).
WEBHOOK_SAVE_RESOLVE_SECONDS = env.float("WEBHOOK_SAVE_RESOLVE_SECONDS", default=1.0)

# --- Email (workflow notices) -----------------------------------------------------------------
# smtp+tls://user:password@host:587, smtp://host:25, consolemail:// (the default: to the log) ...
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ledgerdoc@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- REST framework, JWT, OpenAPI --------------------------------------------------------------
# Records lists: ``Prefer: count=estimated`` counts exactly up to this many rows (the planner's
# estimate above it); a ``$skiptoken`` (keyset page) stays valid this long.
REST_COUNT_EXACT_LIMIT = env.int("REST_COUNT_EXACT_LIMIT", default=10_000)
REST_SKIPTOKEN_SECONDS = env.int("REST_SKIPTOKEN_SECONDS", default=3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ContextJWTAuthentication",
        "apps.accounts.authentication.ContextBasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.permissions.HasRequestContext"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.negotiation.PreferenceNegotiation",
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "apps.core.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"login": env.str("LOGIN_THROTTLE_RATE", default="30/min")},
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": NUM_PROXIES,
}
AUTH_BASIC_ENABLED = env.bool("AUTH_BASIC_ENABLED", default=True)
# How long a successful HTTP Basic check is remembered (keyed hash of the credentials; dropped on
# password change, deactivation and logout). 0 hashes the password on every request.
AUTH_BASIC_MEMO_SECONDS = env.int("AUTH_BASIC_MEMO_SECONDS", default=120)
# One budget of failed password checks per client address and user name, shared by the API login,
# HTTP Basic and the UI sign-in: "<failures>/<window>", the window in s, m, h or d (successes do
# not spend it). Past it: 429 with Retry-After, even with the right password.
AUTH_FAILURE_LIMIT = env.str("AUTH_FAILURE_LIMIT", default="30/5m")

JWT_PRIVATE_KEY = env.str("JWT_PRIVATE_KEY", multiline=True, default="") or local_rsa_private_pem(
    VAR_DIR
)
SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    "SIGNING_KEY": JWT_PRIVATE_KEY,
    "VERIFYING_KEY": public_pem_of(JWT_PRIVATE_KEY),
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_REFRESH_MINUTES", default=24 * 60)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
}
JWT_LOGIN_TOKEN_MINUTES = env.int("JWT_LOGIN_TOKEN_MINUTES", default=10)
AUTH_SESSION_MAX_AGE = timedelta(minutes=env.int("AUTH_SESSION_MAX_MINUTES", default=7 * 24 * 60))

SPECTACULAR_SETTINGS = {
    "TITLE": "Ledgerdoc API",
    "DESCRIPTION": "ERP records, workflow approvals, documents and resumable uploads.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema's URL to a third party (and the CSP refuses it).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # uploadLocation and copyLocation are one choice of where a file goes.
    "ENUM_NAME_OVERRIDES": {"FileLocationEnum": "apps.uploads.serializers.UPLOAD_LOCATIONS"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.openapi.document_problems",
    ],
}

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
