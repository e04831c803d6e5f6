"""The append-only trail of who looked at or changed what, and with what outcome."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        VIEW = "view", _("Viewed")
        CREATE = "create", _("Created")
        CHANGE = "change", _("Changed")
        DELETE = "delete", _("Deleted")
        EXPORT = "export", _("Exported")
        IMPORT = "import", _("Imported")
        # A masked customer opened in full for a stated reason, for a limited time ("break the glass").
        UNMASK = "unmask", _("Unmasked for a reason")

    class Outcome(models.TextChoices):
        ALLOWED = "allowed", _("Allowed, in full")
        MASKED = "masked", _("Allowed, sensitive fields masked")
        DENIED = "denied", _("Denied")

    occurred_at = models.DateTimeField(_("occurred at"), auto_now_add=True)  # stored in UTC
    # PROTECT: a user with audit rows is deactivated, never deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+", verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    # A plain label and id rather than a foreign key: the audit app sits below the apps it
    # records, and a row must outlive whatever it names.
    object_type = models.CharField(_("object type"), max_length=40)
    object_id = models.CharField(_("object id"), max_length=40)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            # "Who looked at this customer?": a customer's access log, newest first.
            models.Index(
                fields=["object_type", "object_id", "-occurred_at"], name="audit_object_time_idx"
            ),
            # "What did this user look at?": one actor's trail, newest first.
            models.Index(fields=["actor", "-occurred_at"], name="audit_actor_time_idx"),
            # The compliance search with neither an actor nor an object: the newest events first.
            models.Index(fields=["-occurred_at", "-id"], name="audit_time_idx"),
        ]
        # Append-only is enforced by plain triggers written in migration
        # 0003_audit_event_append_only_guard, not by a pgtrigger Meta trigger: pgtrigger's
        # triggers step aside for any session that sets `pgtrigger.ignore`, which the
        # application's own database role could do. Privileges do the rest (`db_roles`).

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_id} {self.action} {self.object_type}:{self.object_id}"
