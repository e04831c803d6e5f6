"""The one channel vocabulary of the product: every channel a customer reaches the bank by, or
the bank reaches the customer by, has one code here. Each field uses the subset that fits it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    BRANCH = "branch", _("Branch counter")
    ATM = "atm", _("ATM")
    CALL_CENTRE = "call_centre", _("Call centre")
    SERVICE_CENTRE = "service_centre", _("Customer service centre")
    WEB = "web", _("Internet banking")
    MOBILE = "mobile", _("Mobile app")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    POST = "post", _("Post")
    CARD = "card", _("Card / POS")
    STANDING_ORDER = "standing_order", _("Standing order")
    SYSTEM = "system", _("Bank system")


CHANNEL_MAX_LENGTH = 16

# Ways the bank can reach a customer: preferred channel, campaign channels.
CONTACT_CHANNELS = (
    Channel.BRANCH, Channel.CALL_CENTRE, Channel.EMAIL, Channel.SMS, Channel.WEB, Channel.MOBILE, Channel.POST,
)
# Where an interaction with a customer can happen (the timeline).
TOUCHPOINT_CHANNELS = (
    Channel.ATM, Channel.CALL_CENTRE, Channel.SERVICE_CENTRE, Channel.BRANCH, Channel.WEB, Channel.MOBILE,
    Channel.EMAIL, Channel.SMS, Channel.POST,
)
# How a transaction was made.
TRANSACTION_CHANNELS = (
    Channel.BRANCH, Channel.ATM, Channel.CARD, Channel.WEB, Channel.MOBILE, Channel.STANDING_ORDER, Channel.SYSTEM,
)


def channel_choices(channels: tuple[Channel, ...]) -> list[tuple[str, str]]:
    """Choices for a field limited to `channels`, in the vocabulary's labels."""
    return [(channel.value, channel.label) for channel in channels]
