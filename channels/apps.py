from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChannelsConfig(AppConfig):
    name = "channels"
    verbose_name = _("Channels")

    def ready(self) -> None:
        # The modules that act on newly stored interactions register their hooks on import
        # (channels.services.interactions.interactions_after_store).
        from channels.services import complaints, work  # noqa: F401

        # The nightly lifecycle run on the batch-run framework; the guard that keeps an RM with
        # customers active until the book is transferred (crm_bank.org's user admin asks it).
        from channels.services.continuity import rm_deactivation_guard
        from channels.services.lifecycle import LIFECYCLE_KIND
        from crm_bank.org.services import user_deactivation_guard_register
        from crm_bank.runs.registry import register

        register(LIFECYCLE_KIND)
        user_deactivation_guard_register(rm_deactivation_guard)

        # A one-customer RM hand-over moves the previous RM's open work like a book transfer.
        from channels.services.continuity import customer_handover_work_move
        from customers.services import customer_handover_hook_register

        customer_handover_hook_register(customer_handover_work_move)

        # A customer merge moves these rows to the surviving record (customers.merging); a churn
        # flag is one per customer: when the survivor has one, the absorbed's stays on the tombstone.
        from channels.models import ChurnFlag, Complaint, Interaction, Task
        from customers.merge_registry import customer_references_register

        for model in (Interaction, Complaint, Task, ChurnFlag):
            customer_references_register(model, on_conflict="skip")

        # The retention run erases the free text written about anonymised customers.
        from channels.services.retention import channel_personal_data_erase
        from customers.retention import personal_data_eraser_register

        personal_data_eraser_register("channels", channel_personal_data_erase)

        # The segmentation feature step counts each customer's contacts from the timeline (through customers).
        from channels.interaction_history import InteractionTimeline
        from customers.interaction_history import interaction_history_register

        interaction_history_register(InteractionTimeline())
