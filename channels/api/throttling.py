"""Requests per token (a batch counts once), at settings.CRM_CHANNEL_API_RATE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from channels.models import ChannelToken

if TYPE_CHECKING:
    from rest_framework.views import APIView


class ChannelTokenRateThrottle(SimpleRateThrottle):
    scope = "channel_token"

    def get_rate(self) -> str:
        # Read per request, not when DRF's settings were first loaded, so the setting can change.
        return settings.CRM_CHANNEL_API_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ChannelToken):
            return None  # staff reading the schema with a session are not throttled
        # The hash, not the row id: ids of a rebuilt database would meet an old count.
        return self.cache_format % {"scope": self.scope, "ident": request.auth.key_hash}
