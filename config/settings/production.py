"""Production settings: ``DJANGO_SETTINGS_MODULE=config.settings.production``.

Passes ``python manage.py check --deploy``. Requires ``DJANGO_SECRET_KEY`` and
``DJANGO_ALLOWED_HOSTS``; expects TLS to terminate in front of Django (set
``DJANGO_SECURE_PROXY_SSL_HEADER=true`` when a proxy sets X-Forwarded-Proto).
"""

from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from config.env import env_bool, env_int, env_list, env_str

from .base import *  # noqa: F403
from .base import CONTENT_SECURITY_POLICY, SECRET_KEY

DEBUG = False

if SECRET_KEY.startswith("django-insecure-") or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )

# The audit signing key must be named on purpose, not found under var/ by default: the
# auditors hold its public key, and a key lost with a folder cannot be made again. The
# system check cases.E001 (run by migrate and check --deploy) checks the file itself.
if not env_str("REDRESS_AUDIT_KEY_FILE"):
    raise ImproperlyConfigured(
        "REDRESS_AUDIT_KEY_FILE must name the audit signing key, kept outside the database "
        "(create it once with: manage.py audit_key --generate)."
    )

# A letter is issued only under its agency's own seal: the specimen seal (样章) is refused
# at render time, and ``check --deploy`` names each agency without a seal (documents.E003).
REDRESS_SPECIMEN_SEAL = env_bool("REDRESS_SPECIMEN_SEAL", False)

# Persistent connections: a new PostgreSQL connection per request cost 4.4 ms of wall time
# and a third of the database CPU at load (bench/RESULTS.md, "Throughput"). Each
# gunicorn worker and Celery process keeps one for this many seconds (0: one per request).
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 300)  # noqa: F405

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name the hosts Redress is served on.")

SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Cookies only over TLS and only for same-site navigation; the language cookie too.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# The browser upgrades any http:// sub-resource a page may still name.
CONTENT_SECURITY_POLICY = {
    **CONTENT_SECURITY_POLICY,
    "DIRECTIVES": {**CONTENT_SECURITY_POLICY["DIRECTIVES"], "upgrade-insecure-requests": True},
}

# Hashed names (cached for a year by browsers), compressed copies and a manifest that
# every {% static %} reads: ``collectstatic`` must run before the first request, and
# ``check --deploy`` says so when it has not (config.staticfiles).
STORAGES["staticfiles"] = {"BACKEND": "config.staticfiles.RedressStaticFilesStorage"}  # noqa: F405
# Source maps (only developer tools fetch them) and the legacy font formats (browsers
# take the WOFF2 beside them) are served as they are: brotli at its best setting on those
# megabytes was most of collectstatic's time.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [
    *Compressor.SKIP_COMPRESS_EXTENSIONS,
    "map",
    "eot",
    "otf",
    "ttf",
]
