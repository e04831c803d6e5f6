"""Channel systems and their API tokens; the holding list of items for unknown customers.

A token is shown once, when it is made: only its SHA-256 is stored, so a copy of the database
gives nobody a working token.
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.models import ChannelSystem, ChannelToken, HeldInteraction, Interaction
from channels.services.ingest import held_item_build
from channels.services.interactions import interactions_store
from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record

TOKEN_BYTES = 32
PREFIX_LENGTH = ChannelToken._meta.get_field("prefix").max_length


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def channel_system_register(
    *, code: str, name: str = "", actor: AbstractBaseUser | None = None, ip_address: str | None = None,
) -> tuple[ChannelSystem, bool]:
    """The system with `code`, registered first when new (True). Raises ValidationError for a bad code."""
    system = ChannelSystem(code=code.strip(), name=(name or code).strip())
    try:
        system.full_clean(validate_unique=False)
    except ValidationError as error:
        raise ValidationError({key: value for key, value in error.message_dict.items() if key in ("code", "name")}) \
            from error
    with transaction.atomic():
        system, created = ChannelSystem.objects.get_or_create(code=system.code, defaults={"name": system.name})
        if created:
            audit_record(actor=actor, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                         object_type="channel_system", object_id=system.pk, ip_address=ip_address,
                         detail={"code": system.code})
    return system, created


def channel_token_create(
    *, system: ChannelSystem, actor: AbstractBaseUser | None = None, ip_address: str | None = None,
) -> tuple[ChannelToken, str]:
    """A new token for `system`: the row and the token itself, which is not stored and cannot be shown again."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        row = ChannelToken.objects.create(system=system, key_hash=token_hash(token), prefix=token[:PREFIX_LENGTH],
                                          created_by=actor)
        audit_record(actor=actor, action=AuditEvent.Action.CREATE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="channel_token", object_id=row.pk, ip_address=ip_address,
                     detail={"system": system.code, "prefix": row.prefix})
    return row, token


def channel_token_revoke(
    *, token: ChannelToken, actor: AbstractBaseUser | None, ip_address: str | None = None,
) -> bool:
    """Revokes the token from now on; False when it already was revoked (nothing changes then)."""
    with transaction.atomic():
        changed = ChannelToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if changed:
            audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                         object_type="channel_token", object_id=token.pk, ip_address=ip_address,
                         detail={"system_id": token.system_id, "prefix": token.prefix, "revoked": True})
    return bool(changed)


def held_interaction_resolve(
    *, held: HeldInteraction, cif: str, actor: AbstractBaseUser, ip_address: str | None = None,
) -> Interaction:
    """Stores a held item as an interaction of customer `cif`, as if the system had sent that number.
    Raises ValidationError (a message per field) when the number is unknown, the item no longer
    passes the checks, or the item is no longer held; nothing is written then."""
    with transaction.atomic():
        locked = HeldInteraction.objects.select_for_update().select_related("system").get(pk=held.pk)
        if locked.status != HeldInteraction.Status.HELD:
            raise ValidationError({"customer": _("This item is no longer held.")})
        item = held_item_build(held=locked, cif=cif)
        try:
            with transaction.atomic():
                (stored,) = interactions_store(items=[item], actor=actor)
        except IntegrityError as error:
            raise ValidationError(
                {"customer": _("The system's item with this source_id is already stored.")}
            ) from error
        HeldInteraction.objects.filter(pk=locked.pk).update(
            status=HeldInteraction.Status.RESOLVED, interaction=stored, resolved_by=actor, resolved_at=timezone.now(),
        )
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="held_interaction", object_id=locked.pk, ip_address=ip_address,
                     detail={"resolved_to": item.customer_id, "interaction": stored.pk, "system": locked.system.code})
    return stored


def held_interaction_discard(
    *, held: HeldInteraction, note: str, actor: AbstractBaseUser, ip_address: str | None = None,
) -> None:
    """Sets a held item aside for good, with the reason. Raises ValidationError without a reason or
    when the item is no longer held."""
    note = note.strip()
    if not note:
        raise ValidationError({"note": _("Say why the item is discarded.")})
    with transaction.atomic():
        changed = HeldInteraction.objects.filter(pk=held.pk, status=HeldInteraction.Status.HELD).update(
            status=HeldInteraction.Status.DISCARDED, note=note[:300], resolved_by=actor, resolved_at=timezone.now(),
        )
        if not changed:
            raise ValidationError({"note": _("This item is no longer held.")})
        audit_record(actor=actor, action=AuditEvent.Action.CHANGE, outcome=AuditEvent.Outcome.ALLOWED,
                     object_type="held_interaction", object_id=held.pk, ip_address=ip_address,
                     detail={"discarded": True})
