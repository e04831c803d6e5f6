"""The test suite: real PostgreSQL, fast hashing, no debug."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-a-secret")
# The shared LOGGING (one line per 403, no doubled records) with warnings and above only.
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")

from .base import *  # noqa: E402,F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEMO_PASSWORD = "test-demo-password"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Serve static files from the source folders (no collectstatic before tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Each test process counts rate limits on its own, so one test's requests never throttle another's.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Off by default; the two-factor tests turn it on (tests/test_two_factor.py).
CRM_TWO_FACTOR = False
