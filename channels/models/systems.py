"""Channel systems (call-centre platform, ATM switch, internet banking…) and the API tokens they post with."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm_bank.org.models import Branch
from customers.models import TOUCHPOINT_CHANNELS, channel_choices
from customers.models.channels import CHANNEL_MAX_LENGTH


class ChannelSystem(models.Model):
    """A system that sends the bank's contacts with customers. Every interaction it sends carries
    its code as `source_system`, and its `source_id`s are unique within it."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    # The channel its contacts usually come through (a form default; each interaction names its own).
    default_channel = models.CharField(
        _("default channel"), max_length=CHANNEL_MAX_LENGTH, choices=channel_choices(TOUCHPOINT_CHANNELS), blank=True,
    )
    # A branch's own system sees that branch's customers unmasked in the timeline API; any other
    # system sees what staff of another branch see on the 360° page.
    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("branch"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("channel system")
        verbose_name_plural = _("channel systems")

    def __str__(self) -> str:
        return self.code


class ChannelToken(models.Model):
    """An API token of one channel system. Only its SHA-256 is stored; the token itself is shown
    once, when `create_channel_token` makes it."""

    system = models.ForeignKey(ChannelSystem, on_delete=models.CASCADE, related_name="tokens",
                               verbose_name=_("channel system"))
    key_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    # The token's first characters, so an admin can tell tokens apart without the secret.
    prefix = models.CharField(_("token starts with"), max_length=8, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("channel API token")
        verbose_name_plural = _("channel API tokens")

    def __str__(self) -> str:
        return f"{self.system_id}:{self.prefix}…"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
