"""Channel systems authenticate with `Authorization: Token <token>`; only the token's hash is stored."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from channels.models import ChannelSystem, ChannelToken
from channels.services.systems import token_hash

KEYWORD = "Token"
# last_used_at is a hint for admins, not a log: written at most this often per token.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)


@dataclass(frozen=True)
class ChannelClient:
    """The authenticated caller of an API request: a channel system, not a member of staff."""

    system: ChannelSystem
    token: ChannelToken
    is_authenticated: bool = True
    is_active: bool = True
    pk: None = None

    def __str__(self) -> str:
        return self.system.code


class ChannelTokenAuthentication(BaseAuthentication):
    """An unknown, revoked or inactive system's token is refused with 401, as is no token at all."""

    def authenticate(self, request: Request) -> tuple[ChannelClient, ChannelToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(_("Send the header as “Authorization: Token <token>”."))
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token.")) from None
        token = ChannelToken.objects.select_related("system").filter(key_hash=token_hash(key)).first()
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."))
        if not token.system.is_active:
            raise exceptions.AuthenticationFailed(_("This channel system is not active."))
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            ChannelToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return ChannelClient(system=token.system, token=token), token

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD  # so DRF answers a missing token with 401, not 403

