"""The one way a page gets a customer: role/branch scoping, masking and the audit row.

Customer information is shared bank-wide so nobody treats an existing customer as new:
any staff member can find any customer and see the name, branch, RM and last contact.
Sensitive fields (national ID, phone, e-mail, address, balances, transactions) are shown in
full only to the customer's branch staff and RM, supervisors of that branch, and admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from crm_bank.audit.models import AuditEvent
from crm_bank.audit.services import audit_record, request_ip
from crm_bank.joined_rows import Join, JoinedRead
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.ui.redirects import redirect_for
from customers.masking import masked_value
from customers.models import Customer, Household, UnmaskGrant

# Who may break the glass (customers.unmasking): staff who serve customers face to face or on the
# phone. Analysts and compliance officers work on aggregates and the trail; admins see all already.
UNMASK_ROLES = (StaffProfile.Role.RM, StaffProfile.Role.SUPERVISOR)


@dataclass(frozen=True)
class CustomerAccess:
    """A customer as one user may see it. Templates get this, never the model: reading a field
    here (`access.phone`) gives it masked per `MASKING_RULES` when the viewer may not see it."""

    customer: Customer
    full_access: bool
    reason: str
    # The open break-the-glass grant that unmasks the customer for this viewer, if that is why.
    unmask_grant: UnmaskGrant | None = None
    viewer_role: str = ""

    def __getattr__(self, name: str) -> object:
        # Only called for names the class does not define: the customer's own attributes.
        if name.startswith("_"):
            raise AttributeError(name)
        return self.shown(name, getattr(self.customer, name))

    @property
    def masked(self) -> bool:
        return not self.full_access

    def shown(self, field: str, value: object) -> object:
        """`value` of `field` as this viewer may see it."""
        return value if self.full_access else masked_value(field, value)

    @property
    def birth_date_text(self) -> str:
        """The full date for full access; the year only otherwise (see MASKING_RULES)."""
        birth = self.customer.birth_date
        if birth is None:
            return ""
        return date_format(birth, "SHORT_DATE_FORMAT") if self.full_access else masked_value("birth_date", birth)

    @property
    def customer_since_year(self) -> str:
        """The year every viewer sees in the header (as text: a number would get a thousands separator)."""
        since = self.customer.customer_since
        return str(since.year) if since else ""

    @property
    def may_unmask(self) -> bool:
        """Whether the page offers "unmask for a reason" (customers.unmasking)."""
        return self.masked and self.viewer_role in UNMASK_ROLES

    @property
    def may_see_money(self) -> bool:
        """Balances, transactions and loan repayment status."""
        return self.full_access


def money_masked_in_lists(*, profile: StaffProfile | None, customer: Customer) -> bool:
    """Whether a row about `customer` in a list of many customers (a KPI drill-down, value movers)
    shows their money — balances, flows, value — masked to `profile` (MASKING_RULES): unless the
    viewer has full access to them. Lists do not look up break-the-glass grants; a grant unmasks
    the customer's 360° page. Needs the customer's home branch and RM ids, nothing more."""
    return profile is None or customer_full_access_reason(profile=profile, customer=customer) is None


def customer_full_access_reason(*, profile: StaffProfile, customer: Customer) -> str | None:
    """Why `profile` may see `customer` unmasked, or None if it may not."""
    if profile.role == StaffProfile.Role.ADMIN:
        return "admin"
    if customer.primary_rm_id is not None and customer.primary_rm_id == profile.user_id:
        return "customer's RM"
    if profile.branch_id is not None and profile.branch_id == customer.home_branch_id:
        if profile.role == StaffProfile.Role.SUPERVISOR:
            return "supervisor of the customer's branch"
        return "staff of the customer's branch"
    return None


def unmask_grant_active(*, user_id: int, customer_id: int, at: datetime | None = None) -> UnmaskGrant | None:
    """The user's open break-the-glass grant for the customer, if any (one indexed look-up)."""
    return (
        UnmaskGrant.objects.filter(user_id=user_id, customer_id=customer_id, expires_at__gt=at or timezone.now())
        .order_by("-expires_at").first()
    )


@cache
def _customer_read() -> JoinedRead:
    """The customer with home branch, RM and household: every customer page's first read, in SQL
    written once (crm_bank.joined_rows), not compiled by the ORM on each view. The RM's password hash
    and last sign-in are not read: no customer page shows them, and a sign-in must not change what
    the page's panels are rendered from (crm_bank.ui.fragments keys them on it)."""
    return JoinedRead(Customer, "c", joins=(
        Join(Branch, "b", on="b.id = c.home_branch_id", parent="c", field="home_branch"),
        Join(get_user_model(), "u", on="u.id = c.primary_rm_id", parent="c", field="primary_rm",
             deferred=("password", "last_login")),
        Join(Household, "h", on="h.id = c.household_id", parent="c", field="household"),
    ), where="c.id = %s")


def customer_get_for_user(
    *,
    user: AbstractBaseUser | AnonymousUser,
    customer_id: int,
    request: HttpRequest | None = None,
    purpose: str = "360",
) -> CustomerAccess:
    """Fetches a customer for `user`, decides masking and writes the audit row.

    1. A user with no staff role is refused (audited as denied) with PermissionDenied.
    2. An unknown customer raises Http404 (nothing to audit against).
    3. Full or masked access is decided per the bank rules above and audited; a merged-away
       record's audit row names the record it was merged into (the caller redirects there).
       An RM or supervisor outside the branch with an open break-the-glass grant sees it in full
       until the grant expires (customers.unmasking); the audit row names the grant.
    """
    if not 0 < customer_id < 2**63:  # beyond a bigint: no such customer, nothing to audit
        raise Http404("No such customer.")
    profile = staff_profile_for_user(user)
    ip_address = request_ip(request)
    if profile is None or not user.is_active:
        audit_record(
            actor=user, action=AuditEvent.Action.VIEW, outcome=AuditEvent.Outcome.DENIED,
            object_type="customer", object_id=customer_id, ip_address=ip_address,
            detail={"purpose": purpose, "reason": "no staff role"},
        )
        raise PermissionDenied("Only bank staff may open customer records.")
    customer = _customer_read().get([customer_id])
    if customer is None:
        raise Http404("No such customer.")
    reason = customer_full_access_reason(profile=profile, customer=customer)
    grant = None
    if reason is None and profile.role in UNMASK_ROLES:
        grant = unmask_grant_active(user_id=user.pk, customer_id=customer.pk)
        reason = "unmasked for a stated reason" if grant is not None else None
    detail = {"purpose": purpose, "reason": reason or "outside the customer's branch"}
    if grant is not None:
        detail["unmask_grant"] = grant.pk
    if customer.merged_into_id is not None:  # a tombstone: the page sends the viewer to the survivor
        detail["merged_into"] = customer.merged_into_id
    audit_record(
        actor=user, action=AuditEvent.Action.VIEW,
        outcome=AuditEvent.Outcome.ALLOWED if reason else AuditEvent.Outcome.MASKED,
        object_type="customer", object_id=customer.pk, ip_address=ip_address, detail=detail,
    )
    return CustomerAccess(customer=customer, full_access=reason is not None, reason=reason or "",
                          unmask_grant=grant, viewer_role=profile.role)


def tombstone_redirect(request: HttpRequest, access: CustomerAccess) -> HttpResponse | None:
    """For a form about a record merged away since the page was opened: back to the record that
    absorbed it, saying so (an htmx request is told to go there), instead of writing onto the
    tombstone, where no timeline, RM or task would ever see it. None for a live record."""
    survivor = access.customer.merged_into_id
    if survivor is None:
        return None
    messages.info(request, gettext("Customer %(cif)s was merged into another record: nothing was saved; record it "
                                   "here.") % {"cif": access.customer.cif})
    return redirect_for(request, resolve_url("customers:customer-detail", pk=survivor))
