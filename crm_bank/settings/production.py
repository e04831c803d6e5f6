"""Production: only what must differ from base. Secrets have no defaults."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CRM_TRUSTED_PROXIES, SECRET_KEY, env

# Refuse to start rather than run open: a secret key of the development or test settings (or any
# short or "insecure" one), DEBUG asked for, or any host allowed.
_KNOWN_KEYS = {"local-development-only-not-a-secret", "test-only-not-a-secret"}
if SECRET_KEY in _KNOWN_KEYS or len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a secret of at least 50 characters, not a development "
                               "or default key (e.g. python -c 'import secrets; print(secrets.token_urlsafe(60))').")
if env.bool("DJANGO_DEBUG", default=False):
    raise ImproperlyConfigured("DJANGO_DEBUG is on: production settings never run with DEBUG.")
DEBUG = False
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if not ALLOWED_HOSTS or any(host.strip() in ("*", "") for host in ALLOWED_HOSTS):
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name the site's hosts; '*' would accept any Host header.")
if not env.bool("CRM_TWO_FACTOR", default=True):
    raise ImproperlyConfigured("CRM_TWO_FACTOR is off: supervisors, admins and compliance officers always sign in "
                               "with a second factor in production.")
CRM_TWO_FACTOR = True
# X-Forwarded-Proto says "https" only behind the bank's TLS proxy, which sets it: without one
# (CRM_TRUSTED_PROXIES 0) any client could send it and pass for a secure request.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if CRM_TRUSTED_PROXIES else None
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# The container's and the load balancer's health check asks over plain HTTP on the inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
