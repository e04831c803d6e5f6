from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

# Production unless told otherwise (make run and the tests say which settings they use).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_bank.settings.production")

application = get_wsgi_application()
