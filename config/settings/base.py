"""Base settings, read from the environment with safe defaults.

Defaults give a working single-machine install: SQLite under ``var/``, files on
the local disk, Celery on a filesystem broker (no server needed). Set
``DATABASE_URL`` for PostgreSQL and ``CELERY_BROKER_URL`` for Redis in production.
"""

import datetime
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("REDRESS_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)

# A development key is only acceptable while DEBUG is on or under the test runner;
# production.py refuses to start without a real one.
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or (
    "django-insecure-redress-development-key-do-not-use-in-production"
)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "guardian",
    "rest_framework",
    "knox",  # API tokens: hashed, expiring, one per login (our model: cases.ApiToken)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files (CSP: 'self')
    "config.apps.AxesConfig",  # django-axes, with a translated name in the admin
    "csp",
    "viewflow",
    "viewflow.workflow",
    # The layers, bottom up (docs/decisions/0014): the domain, the subscribers, the
    # route, the interfaces; ``config`` wires them together.
    "cases",
    "documents",
    "notifications",
    "workflows",
    "portal",
    "workspace",
    "api",
    "backoffice",
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.SessionTouchMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CsrfViewMiddleware, the first to read a form: a request larger than its
    # endpoint accepts is refused (413) before its body is read.
    "config.middleware.RequestBodyLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.SessionLifetimeMiddleware",
    "config.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a lockout flagged during authentication into the lockout response.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------
# SQLite by default so that a new user needs no server; DATABASE_URL (for example
# postgres://user@127.0.0.1:5432/redress) selects PostgreSQL for production.
_SQLITE_DEFAULT = f"sqlite:///{VAR_DIR / 'redress.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or _SQLITE_DEFAULT,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
        # Behind PgBouncer in transaction pooling a cursor cannot outlive its transaction:
        # set DATABASE_DISABLE_SERVER_SIDE_CURSORS=true there (deploy/README.md).
        disable_server_side_cursors=env_bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", False),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server and the background worker share the file: wait for locks
    # instead of failing, and take the write lock at BEGIN so that a read-then-write
    # transaction cannot deadlock against another writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username+address before any password is checked. It
    # covers every caller of authenticate(request=...): the login page and the API's
    # token endpoint alike.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
GUARDIAN_RAISE_403 = True

# --- Sessions ----------------------------------------------------------------------------
# A session ends after REDRESS_SESSION_IDLE_MINUTES without a request (a sliding expiry:
# the cookie's and the stored session's lifetime restart when a request comes more than
# REDRESS_SESSION_TOUCH_SECONDS after the session was last saved, SessionTouchMiddleware,
# instead of a write on every request) and, however active, REDRESS_SESSION_MAX_HOURS
# after its sign-in (SessionLifetimeMiddleware).
# A shared office computer left signed in is signed out by itself.
REDRESS_SESSION_IDLE_MINUTES = env_int("REDRESS_SESSION_IDLE_MINUTES", 30)
REDRESS_SESSION_MAX_HOURS = env_int("REDRESS_SESSION_MAX_HOURS", 12)
SESSION_COOKIE_AGE = REDRESS_SESSION_IDLE_MINUTES * 60
REDRESS_SESSION_TOUCH_SECONDS = 60
SESSION_SAVE_EVERY_REQUEST = False

# --- Login throttling and lockout (django-axes) ------------------------------------
# After REDRESS_LOGIN_FAILURE_LIMIT failed logins for one username from one address, that
# pair is locked out for REDRESS_LOGIN_LOCKOUT_MINUTES (HTTP 429), on the login page and
# on POST /api/v1/auth/token/ alike. Locking the pair, not the username alone, keeps an
# attacker from locking a real user out from elsewhere. A success resets the count.
AXES_ENABLED = env_bool("REDRESS_LOGIN_LOCKOUT_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("REDRESS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_int("REDRESS_LOGIN_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "config.logins.lockout_response"
# A refused attempt checks no password, so it is no guess: it neither counts as a failure
# nor prolongs a lockout (an officer who retries behind a throttled address is not pushed
# into a lockout of their own username).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Every failure is logged with its address and time (the admin shows them): the address
# throttle below counts them across usernames.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_HANDLER = "config.logins.LoginThrottleHandler"
# Password spraying (one guess each for many usernames) never reaches the per-username
# limit: REDRESS_LOGIN_ADDRESS_FAILURE_LIMIT failures from one address, whatever the
# usernames, within REDRESS_LOGIN_ADDRESS_WINDOW_MINUTES throttle that address (429) until
# the oldest of them leaves the window. A short sliding window, not a lockout: an attacker
# behind an office's shared (NAT) address holds the office back only while the attack
# lasts, plus at most one window. See docs/decisions/0011.
REDRESS_LOGIN_ADDRESS_FAILURE_LIMIT = env_int("REDRESS_LOGIN_ADDRESS_FAILURE_LIMIT", 20)
REDRESS_LOGIN_ADDRESS_WINDOW = datetime.timedelta(
    minutes=env_int("REDRESS_LOGIN_ADDRESS_WINDOW_MINUTES", 15)
)
# Password reset requests (viewflow's /accounts/password_reset/), counted in the database:
# per address and per e-mail address typed (whether or not an account has it, so that the
# answer says nothing about which accounts exist).
REDRESS_PASSWORD_RESET_ADDRESS_LIMIT = env_int("REDRESS_PASSWORD_RESET_ADDRESS_LIMIT", 10)
REDRESS_PASSWORD_RESET_EMAIL_LIMIT = env_int("REDRESS_PASSWORD_RESET_EMAIL_LIMIT", 3)
REDRESS_PASSWORD_RESET_WINDOW = datetime.timedelta(
    minutes=env_int("REDRESS_PASSWORD_RESET_WINDOW_MINUTES", 60)
)
# The client's address is REMOTE_ADDR unless REDRESS_TRUSTED_PROXY_COUNT proxies (that
# overwrite X-Forwarded-For) stand in front: a header a client can set never decides it.
REDRESS_TRUSTED_PROXY_COUNT = env_int("REDRESS_TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "api.conventions.client_ip"

# --- Content Security Policy (django-csp) -------------------------------------------
# Scripts only from our own static files (viewflow's frontend has no inline script; a
# page that needs one marks it with {{ request.csp_nonce }}). Styles allow inline:
# viewflow's Material templates and components use style attributes throughout.
# Evidence files are served with their own, stricter sandbox policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if env_str("REDRESS_CSP_REPORT_URI"):
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [env_str("REDRESS_CSP_REPORT_URI")]
ANONYMOUS_USER_NAME = None  # no guardian anonymous user: the public sees nothing

# --- I18N ------------------------------------------------------------------
LANGUAGE_CODE = env_str("DJANGO_LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files, media, letters -------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # never served directly: evidence and letters go through views
LETTERS_ROOT = Path(env_str("REDRESS_LETTERS_ROOT", str(VAR_DIR / "letters")))
EXPORTS_ROOT = Path(env_str("REDRESS_EXPORTS_ROOT", str(VAR_DIR / "exports")))
# The write-once copy of the audit checkpoints, outside the database (cases.anchoring):
# make it append-only for Redress's user (chattr +a, a WORM mount, S3 Object Lock).
AUDIT_CHECKPOINT_DIR = Path(env_str("REDRESS_AUDIT_CHECKPOINT_DIR", str(VAR_DIR / "checkpoints")))

# Any S3-compatible store (AWS S3, MinIO, Ceph, OSS with its S3 API) through
# django-storages when REDRESS_S3_BUCKET is set; local disk otherwise.
S3_BUCKET = env_str("REDRESS_S3_BUCKET")
if S3_BUCKET:
    _s3_options = {
        "bucket_name": S3_BUCKET,
        "endpoint_url": env_str("REDRESS_S3_ENDPOINT_URL") or None,
        "region_name": env_str("REDRESS_S3_REGION") or None,
        "access_key": env_str("REDRESS_S3_ACCESS_KEY") or None,
        "secret_key": env_str("REDRESS_S3_SECRET_KEY") or None,
        "default_acl": "private",
        "querystring_auth": True,
        "file_overwrite": False,
    }
    _private = {"BACKEND": "storages.backends.s3.S3Storage"}
    STORAGES = {
        "default": {**_private, "OPTIONS": {**_s3_options, "location": "media"}},
        "evidence": {**_private, "OPTIONS": {**_s3_options, "location": "evidence"}},
        "letters": {**_private, "OPTIONS": {**_s3_options, "location": "letters"}},
        "exports": {**_private, "OPTIONS": {**_s3_options, "location": "exports"}},
        # Put Object Lock (compliance mode) on this prefix's bucket: checkpoints are
        # written once and must outlive anyone who can reach the database.
        "checkpoints": {**_private, "OPTIONS": {**_s3_options, "location": "checkpoints"}},
    }
else:
    _local = "django.core.files.storage.FileSystemStorage"
    STORAGES = {
        "default": {"BACKEND": _local, "OPTIONS": {"location": MEDIA_ROOT}},
        "evidence": {"BACKEND": _local, "OPTIONS": {"location": MEDIA_ROOT / "evidence"}},
        "letters": {"BACKEND": _local, "OPTIONS": {"location": LETTERS_ROOT}},
        "exports": {"BACKEND": _local, "OPTIONS": {"location": EXPORTS_ROOT}},
        "checkpoints": {
            "BACKEND": _local,
            "OPTIONS": {"location": AUDIT_CHECKPOINT_DIR, "file_permissions_mode": 0o440},
        },
    }
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "config.staticfiles.AppDirectoriesFinder",  # Django's, without what no page uses
]
STORAGES["staticfiles"] = {
    "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
    if not DEBUG
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
}

# --- Uploads and request sizes -------------------------------------------------------
# A request is refused (413) before its body is read when its Content-Length is over what
# its endpoint accepts (config.middleware.RequestBodyLimitMiddleware): an evidence file or
# a proof of authorisation up to REDRESS_UPLOAD_MAX_BYTES, a copy of a letter up to
# REDRESS_LETTER_COPY_MAX_BYTES (letters are about 100 KB), anything else
# REDRESS_REQUEST_MAX_BYTES.
REDRESS_UPLOAD_MAX_BYTES = env_int("REDRESS_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
# Most pixels in an uploaded image (or an image inside an uploaded PDF), read from the
# header: an A3 page scanned at 600 dpi has 70 million, a 50-megapixel photo 50 million.
REDRESS_UPLOAD_MAX_IMAGE_PIXELS = env_int("REDRESS_UPLOAD_MAX_IMAGE_PIXELS", 100_000_000)
REDRESS_LETTER_COPY_MAX_BYTES = env_int("REDRESS_LETTER_COPY_MAX_BYTES", 5 * 1024 * 1024)
REDRESS_REQUEST_MAX_BYTES = env_int("REDRESS_REQUEST_MAX_BYTES", 1024 * 1024)
# Dotted path to a callable(bytes) that raises cases.errors.UploadRejected for malware,
# e.g. a small wrapper around a ClamAV daemon client (clamd); empty: no scanner.
REDRESS_MALWARE_SCANNER = env_str("REDRESS_MALWARE_SCANNER", "")
FILE_UPLOAD_PERMISSIONS = 0o640

# --- Record import (manage.py import_records; docs/import-format.md) ----------
# One import reads at most this many record rows, columns (A to the N-th) and bytes
# (a CSV's size; an XLSX file's parts unpacked); past one, the whole file is refused.
REDRESS_IMPORT_MAX_ROWS = env_int("REDRESS_IMPORT_MAX_ROWS", 100_000)
REDRESS_IMPORT_MAX_COLUMNS = env_int("REDRESS_IMPORT_MAX_COLUMNS", 26)
REDRESS_IMPORT_MAX_BYTES = env_int("REDRESS_IMPORT_MAX_BYTES", 128 * 1024 * 1024)
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750

# --- Celery ------------------------------------------------------------------
# Without CELERY_BROKER_URL, Celery uses kombu's filesystem transport under var/:
# the README's run command starts a real worker and beat on it, so timers and
# notifications work on a fresh machine with no server. Production: redis://...
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A task taken but not acknowledged (acks_late) goes back to the queue when its worker
    # has not acknowledged it within this time: longer than the longest task and than the
    # longest countdown a retry waits (render_letter: 600 s), or it would run twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 3600),
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Worker processes per machine (0: one per CPU, Celery's default).
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 0) or None
# Stopping (deploy/redress-worker.service sends SIGTERM with REMAP_SIGTERM=SIGQUIT): the
# worker takes nothing new, gives the task in hand this many seconds to finish, then
# returns it to the queue unacknowledged (acks_late) and exits; idle, it exits at once.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = float(env_int("CELERY_WORKER_SOFT_SHUTDOWN_SECONDS", 8))
# A worker that loses the broker returns its acks_late tasks rather than finish them
# unacknowledged: the broker hands them out again, so none runs twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Email ---------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Redress <noreply@redress.invalid>")

# --- REST API ------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an unauthenticated call gets 401 with WWW-Authenticate, not 403.
    # Session calls (the browsable docs) still need the CSRF token for unsafe methods.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies; the evidence upload takes multipart, the token endpoint forms too.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "api.conventions.ErrorDocumentingAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.conventions.NoCountPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "api.conventions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min", "user": "600/min"},
}
# API tokens (django-rest-knox): a new token for every login, stored as a SHA-512 hash,
# valid for REDRESS_API_TOKEN_HOURS from the login (no sliding renewal: a stolen token
# dies on time). Revoked on logout, on a new password and on signing out of the web pages.
KNOX_TOKEN_MODEL = "cases.ApiToken"  # noqa: S105 - a model name
# knox's own migrations would create its token table although our model replaces it:
# unused, and with a foreign key to the users that makes PostgreSQL refuse to flush them.
MIGRATION_MODULES = {"knox": None}
REDRESS_API_TOKEN_HOURS = env_int("REDRESS_API_TOKEN_HOURS", 10)
if REDRESS_API_TOKEN_HOURS < 1:
    raise ImproperlyConfigured("REDRESS_API_TOKEN_HOURS must be at least 1.")
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(hours=REDRESS_API_TOKEN_HOURS),
    "AUTO_REFRESH": False,
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_MODEL": KNOX_TOKEN_MODEL,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Redress API",
    "DESCRIPTION": "Credit objections and credit restoration requests.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # File uploads appear as binary in request bodies, read-only fields only in responses.
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CaseKindEnum": "cases.models.Case.Kind",
        "CaseStatusEnum": "cases.models.Case.Status",
        "CaseDecisionEnum": "cases.models.Case.Decision",
        "RecordStatusEnum": "cases.models.Record.Status",
        "PublicationStatusEnum": "cases.models.Publication.Status",
        "DeadlineStatusEnum": "cases.models.Deadline.Status",
        "DeadlineStepEnum": "cases.models.Deadline.Step",
        "ClockEntryKindEnum": "cases.models.ClockEntry.Kind",
        "EvidenceOutcomeEnum": "cases.models.Evidence.Outcome",
        "EvidenceSourceEnum": "cases.models.Evidence.Source",
        "LanguageEnum": "config.settings.base.LANGUAGES",
        "AcceptanceDecisionEnum": "api.task_endpoints.ACCEPTANCE_DECISIONS",
        "LegalReviewDecisionEnum": "api.task_endpoints.LEGAL_REVIEW_DECISIONS",
        "AppealKindEnum": "cases.models.Appeal.Kind",
        "AppealOutcomeEnum": "cases.models.Appeal.Outcome",
    },
}

# --- Logging -------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Redress -------------------------------------------------------------------
REDRESS_REFERENCE_PREFIX = env_str("REDRESS_REFERENCE_PREFIX", "RD")
REDRESS_SITE_URL = env_str("REDRESS_SITE_URL", "http://127.0.0.1:8000")
# Whether a letter may carry the packaged specimen seal (样章) when its agency has none of
# its own: yes in development, tests and the demo; never in production (documents.E003).
REDRESS_SPECIMEN_SEAL = env_bool("REDRESS_SPECIMEN_SEAL", True)

# The Ed25519 key that signs case chain heads and checkpoints (cases.signing). It lives
# outside the database so that whoever can write there cannot sign; the system check
# cases.E001 fails without it. Create it with `manage.py audit_key --generate`.
REDRESS_AUDIT_KEY_FILE = Path(
    env_str("REDRESS_AUDIT_KEY_FILE", str(VAR_DIR / "audit-signing-key.pem"))
)
REDRESS_AUDIT_CHECKPOINT_MINUTES = env_int("REDRESS_AUDIT_CHECKPOINT_MINUTES", 60)

if not DEBUG and SECRET_KEY.startswith("django-insecure-") and env_bool("REDRESS_PRODUCTION"):
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY: the development key is not for production.")

# --- Schedules (Celery beat) --------------------------------------------------------------
REDRESS_TIMER_INTERVAL_SECONDS = env_int("REDRESS_TIMER_INTERVAL_SECONDS", 60)
CELERY_BEAT_SCHEDULE = {
    "fire-workflow-timers": {
        "task": "workflows.fire_timers",
        "schedule": REDRESS_TIMER_INTERVAL_SECONDS,
    },
}

# --- Notifications ---------------------------------------------------------------------------
REDRESS_NOTIFY_MAX_ATTEMPTS = env_int("REDRESS_NOTIFY_MAX_ATTEMPTS", 8)
REDRESS_NOTIFY_BACKOFF_SECONDS = env_int("REDRESS_NOTIFY_BACKOFF_SECONDS", 30)
REDRESS_NOTIFY_BACKOFF_CAP_SECONDS = env_int("REDRESS_NOTIFY_BACKOFF_CAP_SECONDS", 3600)
REDRESS_NOTIFY_LEASE_SECONDS = env_int("REDRESS_NOTIFY_LEASE_SECONDS", 120)
REDRESS_WEBHOOK_TIMEOUT_SECONDS = env_int("REDRESS_WEBHOOK_TIMEOUT_SECONDS", 10)
# Acknowledgements signed the v1 way (the Idempotency-Key outside the signature) are
# accepted while platforms move to v2; turn off once every platform signs v2.
REDRESS_WEBHOOK_ACCEPT_V1 = env_bool("REDRESS_WEBHOOK_ACCEPT_V1", True)
REDRESS_DIGEST_HOUR = env_int("REDRESS_DIGEST_HOUR", 8)
CELERY_BEAT_SCHEDULE.update(
    {
        "sweep-outbox": {
            "task": "notifications.sweep",
            "schedule": env_int("REDRESS_OUTBOX_SWEEP_SECONDS", 15),
        },
        "daily-digest": {
            "task": "workflows.daily_digest",
            "schedule": crontab(hour=REDRESS_DIGEST_HOUR, minute=0),
        },
        "render-pending-letters": {
            "task": "documents.render_pending",
            "schedule": env_int("REDRESS_LETTER_SWEEP_SECONDS", 60),
        },
        "materials-reminders": {
            "task": "workflows.materials_reminders",
            "schedule": crontab(hour=REDRESS_DIGEST_HOUR, minute=5),
        },
        "audit-checkpoints": {
            "task": "cases.audit_checkpoints",
            "schedule": REDRESS_AUDIT_CHECKPOINT_MINUTES * 60,
        },
        # The supervisors' figures: a summary the dashboard reads, its "as of" shown.
        "metrics-refresh": {
            "task": "workflows.metrics_refresh",
            "schedule": env_int("REDRESS_METRICS_REFRESH_SECONDS", 900),
        },
        # Publication ends by itself at the maximum period (《信用修复管理办法》第十二条),
        # once a day, early: a record due today is withdrawn before the day's work.
        "end-publications": {
            "task": "cases.end_publications",
            "schedule": crontab(hour=env_int("REDRESS_END_PUBLICATIONS_HOUR", 1), minute=0),
        },
    }
)
