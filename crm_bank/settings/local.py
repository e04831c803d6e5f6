"""Developer machines and the demo started by `make run`."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "local-development-only-not-a-secret")

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
DEMO_PASSWORD = env("DEMO_PASSWORD", default="branch-demo-2026")
# Notification e-mails are printed by the dev server, not sent.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# Two-factor sign-in is off for the demo unless asked for (CRM_TWO_FACTOR=true); production always asks.
CRM_TWO_FACTOR = env.bool("CRM_TWO_FACTOR", default=False)
