"""Hooks on stored interactions (channels.services.interactions.interactions_after_store): a case for
each complaint contact, the product owner's clock for feedback."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from django.utils.translation import gettext as _

from channels.models import Complaint, ComplaintSLA, Interaction, Task
from channels.models.complaints import Severity
from channels.models.work import Notification
from channels.services.complaints.cases import complaint_create_valid, top_customer_ids
from channels.services.interactions import NewInteraction, interactions_after_store
from channels.services.work import notification_send, task_create
from customers.models import Customer, Product

logger = logging.getLogger(__name__)


@interactions_after_store
def complaints_open_for_interactions(
    rows: list[Interaction], items: list[NewInteraction], actor: AbstractBaseUser | None,
) -> None:
    """Opens a case for each stored contact of kind complaint not linked to one yet (the API, CSV
    files, the quick form), in the storing transaction: the customers, the SLAs and who is a top
    customer are read once for the batch; the links are written to the stored rows in one UPDATE
    (`items` are only read)."""
    pairs = [(row, item) for row, item in zip(rows, items, strict=True)
             if row.kind == Interaction.Kind.COMPLAINT and row.complaint_id is None]
    if not pairs:
        return
    customers = Customer.objects.select_related("home_branch").in_bulk({row.customer_id for row, _item in pairs})
    slas = {sla.severity: sla for sla in ComplaintSLA.objects.all()}
    top = top_customer_ids(customers)
    linked: list[Interaction] = []
    for row, item in pairs:
        category = item.extra.get("category")
        severity = item.extra.get("severity")
        category = category if category in Complaint.Category.values else Complaint.Category.OTHER
        severity = severity if severity in slas else Severity.MEDIUM
        if severity not in slas:
            logger.error("No complaint SLA for %s: interaction %s opens no case", severity, row.pk)
            continue
        complaint = complaint_create_valid(
            customer=customers[row.customer_id], channel=row.channel, category=category, severity=severity,
            description=row.summary, actor=actor, product_id=row.product_id, skip_level_to=None,
            at=row.occurred_at, sla=slas[severity], is_top_customer=row.customer_id in top,
        )
        row.complaint_id = complaint.pk
        linked.append(row)
    # The link goes to the stored rows only, never back onto the caller's items: a batch whose
    # savepoint is rolled back later (another hook refusing an item) loses this case, and an item
    # still carrying its id would be stored again pointing at nothing.
    Interaction.objects.bulk_update(linked, ["complaint"])


@interactions_after_store
def feedback_route_to_product_owners(
    rows: list[Interaction], items: list[NewInteraction], actor: AbstractBaseUser | None,
) -> None:
    """Feedback about a product goes to the product's owner as a task with a response-time clock
    (CRM_FEEDBACK_RESPONSE_HOURS from when the customer gave it) and a notification."""
    feedback = [row for row in rows if row.kind == Interaction.Kind.FEEDBACK and row.product_id is not None]
    if not feedback:
        return
    products = Product.objects.select_related("owner").filter(
        pk__in={row.product_id for row in feedback}, owner__isnull=False, owner__is_active=True).in_bulk()
    if not products:
        return
    customers = Customer.objects.in_bulk({row.customer_id for row in feedback if row.product_id in products})
    clock = datetime.timedelta(hours=settings.CRM_FEEDBACK_RESPONSE_HOURS)
    for row in feedback:
        product = products.get(row.product_id)
        if product is None:
            continue
        customer = customers[row.customer_id]
        task = task_create(
            assignee=product.owner, kind=Task.Kind.FEEDBACK_RESPONSE, due_at=row.occurred_at + clock,
            customer=customer, actor=actor, interaction_id=row.pk, dedupe_key=f"feedback:{row.pk}", detail=row.summary,
            title=_("Feedback on %(product)s from %(customer)s") % {
                "product": product.localized_name, "customer": customer.display_name},
        )
        if task is not None:
            notification_send(
                recipient=product.owner, kind=Notification.Kind.FEEDBACK, customer=customer,
                url=reverse("customers:customer-detail", args=[customer.pk]),
                text=_("%(customer)s gave feedback on %(product)s; answer within %(hours)d hours.") % {
                    "customer": customer.display_name, "product": product.localized_name,
                    "hours": settings.CRM_FEEDBACK_RESPONSE_HOURS},
            )
