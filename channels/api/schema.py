"""How the OpenAPI schema describes the channel token (imported by the views, so it is registered)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from channels.api.authentication import ChannelTokenAuthentication


class ChannelTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes the token header."""

    target_class = ChannelTokenAuthentication
    name = "channelToken"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Token <token>, as printed by `manage.py create_channel_token`."}
