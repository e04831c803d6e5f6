"""Customer pages. Each view parses input, calls selectors/services, renders."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.selectors import campaigns_waiting_for, service_policy_for
from channels.panels import timeline_panel
from channels.selectors.timeline import timeline_page
from crm_bank.audit.services import request_ip
from crm_bank.org.decorators import staff_required
from crm_bank.org.models import Branch, StaffProfile
from crm_bank.org.selectors import staff_profile_for_user
from crm_bank.ui.fragments import Panel, panels_rendered
from crm_bank.ui.paginators import (
    PER_PAGE_CHOICES,
    CappedCountPaginator,
    capped_count,
    per_page_from,
    positive_int,
    table_configure,
)
from crm_bank.ui.templatetags.crm_format import money
from customers.access import CustomerAccess, customer_get_for_user
from customers.filters import CustomerFilter
from customers.models import Customer
from customers.models.customer import INCOMPLETE_BELOW
from customers.panels import (
    TransactionLine,
    change_lines,
    data_quality,
    holding_lines,
    rm_lines,
    segment_lines,
    transaction_lines,
    value_line,
)
from customers.selectors import (
    SOURCES_SHOWN,
    Holding,
    branch_completeness_league,
    branch_summary_cached,
    customer_field_changes,
    customer_field_provenance,
    customer_holdings,
    customer_household_members,
    customer_rm_history,
    customer_search_in_name_order,
    customer_sources,
    customer_total_balances,
    customer_transactions_window,
    rm_book,
    rm_kyc_reviews_due,
)
from customers.selectors import (
    customer_list as select_customers,
)
from customers.services import customer_search_admit, customer_search_audit
from customers.tables import CustomerTable
from segmentation.selectors import TIER_ORDER, customer_segment_path, customer_tier_filter, customer_value_summary

TRANSACTIONS_PER_PAGE = 20


@staff_required()
def home(request: HttpRequest) -> HttpResponse:
    """Each role's landing page; a signed-in user without a staff role is refused, like everywhere."""
    profile = staff_profile_for_user(request.user)
    if profile is not None and profile.role == StaffProfile.Role.RM:
        return redirect("customers:my-book")
    if profile is not None and profile.role in (StaffProfile.Role.SUPERVISOR, StaffProfile.Role.ADMIN):
        return redirect("customers:branch-dashboard")
    if profile is not None and profile.role == StaffProfile.Role.COMPLIANCE:
        return redirect("audit:search")
    return redirect("customers:customer-list")


def _tier_from(request: HttpRequest) -> str:
    tier = request.GET.get("tier", "")
    return tier if tier in TIER_ORDER else ""


def _filter_form_context(request: HttpRequest, customer_filter: CustomerFilter, tier: str) -> dict:
    return {"filter": customer_filter, "per_page_choices": PER_PAGE_CHOICES, "per_page": per_page_from(request),
            "tiers": list(TIER_ORDER), "tier": tier}


@staff_required()
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    identifier_kinds = customer_search_admit(actor=request.user, query=query)  # 429 once the allowance is spent
    customer_filter = CustomerFilter(request.GET, queryset=select_customers())
    sort = request.GET.get("sort", "name")
    # The value tier comes from the published 80/20 run (segmentation), composed here like a panel.
    tier = _tier_from(request)
    # Narrowed beyond the search box (or the form has errors to show): then the filter panel opens
    # with the page; otherwise htmx loads the form when the reader opens it, so a quick search does
    # not pay for the branch and RM lists (a third of the page's time).
    filters_open = not customer_filter.is_valid() or customer_filter.narrowed_beyond_search or bool(tier)
    searched_alone = query and not filters_open
    known_count = None
    if searched_alone and sort in ("name", "-name"):
        # Name-ordered pages straight from the search indexes (see customer_search_in_name_order).
        per_page = per_page_from(request)
        rows = min(positive_int(request.GET.get("page"), 1), CappedCountPaginator.count_cap // per_page + 1) * per_page
        queryset, known_count = customer_search_in_name_order(
            query=query, rows=rows, descending=sort == "-name", count_cap=CappedCountPaginator.count_cap
        )
    else:
        queryset = customer_filter.qs
        if tier:
            tier_filter = customer_tier_filter(tier=tier)
            queryset = queryset.filter(tier_filter.condition)
            known_count = capped_count(queryset, merge_join=tier_filter.count_by_merge_join)
    table = CustomerTable(queryset)
    table_configure(request, table, known_count=known_count)
    response = render(request, "customers/customer_list.html", {
        **_filter_form_context(request, customer_filter, tier), "table": table, "filters_open": filters_open,
    })
    # After rendering: the page's rows are loaded by then, so naming them costs no query.
    customer_search_audit(actor=request.user, kinds=identifier_kinds, ip_address=request_ip(request),
                          found=[row.record.pk for row in table.page.object_list] if identifier_kinds else [])
    return response


@staff_required()
def customer_list_filters(request: HttpRequest) -> HttpResponse:
    """The list's filter form alone, set as the query string has it, for htmx when the panel opens."""
    if not request.htmx:
        query = request.GET.urlencode()
        return redirect(reverse("customers:customer-list") + (f"?{query}" if query else ""))
    customer_filter = CustomerFilter(request.GET, queryset=select_customers())
    customer_filter.is_valid()  # the form shows its errors as the list page would
    return render(request, "customers/_customer_filters.html",
                  _filter_form_context(request, customer_filter, _tier_from(request)))


@dataclass(frozen=True)
class TransactionPage:
    rows: list[TransactionLine]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _transaction_page(access: CustomerAccess, holdings: list[Holding], page: str | None) -> TransactionPage | None:
    """One page of transactions without counting them all: fetch one row more than shown."""
    if not access.may_see_money:
        return None
    number = positive_int(page, 1)
    offset = (number - 1) * TRANSACTIONS_PER_PAGE
    rows = customer_transactions_window(
        account_ids=[h.account_id for h in holdings], offset=offset, limit=TRANSACTIONS_PER_PAGE + 1
    )
    return TransactionPage(
        transaction_lines(rows[:TRANSACTIONS_PER_PAGE], holdings), number, len(rows) > TRANSACTIONS_PER_PAGE
    )


def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    access = customer_get_for_user(user=request.user, customer_id=pk, request=request)
    if access.customer.merged_into_id is not None:  # a tombstone: its old link leads to the survivor
        messages.info(request, _("Customer %(cif)s was merged into this customer; its old link leads here.")
                      % {"cif": access.customer.cif})
        return redirect("customers:customer-detail", pk=access.customer.merged_into_id)
    panels = _detail_panels(access, page=request.GET.get("page"))
    return render(request, "customers/customer_detail.html", {"access": access, "panels": panels_rendered(panels)})


def _detail_panels(access: CustomerAccess, *, page: str | None) -> dict[str, Panel]:
    """The 360° page's header and panels, each with all it shows: the shared cache keeps them
    rendered under that (crm_bank.ui.fragments)."""
    pk = access.pk
    holdings = customer_holdings(customer_id=pk)
    value = customer_value_summary(customer_id=pk)
    path = customer_segment_path(customer_id=pk)
    value_shown, segment_path = value_line(access, value), segment_lines(path)
    return {
        "header": Panel("customers/_customer_header.html", {
            "access": access, "value": value_shown, "segment_path": segment_path}),
        "holdings": Panel("customers/_holdings_panel.html", {
            "holdings": holding_lines(access, holdings),
            "totals": [(currency, money(total, currency))
                       for currency, total in customer_total_balances(holdings).items()]
            if access.may_see_money else [],
        }),
        # The unified timeline's first page (historic campaign contacts are interactions too); the
        # touchpoint map and the header's complaint alerts load by htmx, outside the page's budget.
        "timeline": Panel("channels/_timeline_panel.html", {
            "access": access, "timeline": timeline_panel(access, timeline_page(customer_id=pk))}),
        "transactions": Panel("customers/_transactions_panel.html", {
            "access": access, "transactions": _transaction_page(access, holdings, page)}),
        "profile": Panel("customers/_profile_column.html", {
            "access": access, "value": value_shown, "segment_path": segment_path,
            # How the customer is served: their tier's service policy, or a rule segment's own for the
            # tier (the newest segmentation's rule segments; the policies come from the shared cache).
            "service": service_policy_for(
                tier=value.tier, segment_ids=[rule.id for rule in path[-1].rule_segments] if path else ()
            ) if value else None,
            "household": customer_household_members(
                household_id=access.customer.household_id, exclude_customer_id=pk),
            "rm_history": rm_lines(access, customer_rm_history(customer_id=pk)),
        }),
    }


def customer_transactions_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The transactions panel alone, for htmx paging inside the 360° page."""
    access = customer_get_for_user(user=request.user, customer_id=pk, request=request, purpose="transactions")
    holdings = customer_holdings(customer_id=pk) if access.may_see_money else []
    # Rendered, not kept: a page of older transactions is rarely asked for twice (crm_bank.ui.fragments).
    return render(request, "customers/_transactions_panel.html", {
        "access": access, "transactions": _transaction_page(access, holdings, request.GET.get("page")),
    })


def customer_field_changes_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The field-changes panel, loaded on demand: an audit view few readers of the page need."""
    access = customer_get_for_user(user=request.user, customer_id=pk, request=request, purpose="field changes")
    changes = change_lines(access, customer_field_changes(customer_id=pk))
    template = "customers/_field_changes_panel.html" if request.htmx else "customers/customer_field_changes.html"
    return render(request, template, {"access": access, "field_changes": changes})


def customer_data_quality_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """Completeness, freshness per field group and the source records: htmx loads it into the 360°
    page after the page itself (outside the page's query budget)."""
    access = customer_get_for_user(user=request.user, customer_id=pk, request=request, purpose="data quality")
    sources = customer_sources(customer_id=pk)
    profile = staff_profile_for_user(request.user)
    template = "customers/_data_quality_panel.html" if request.htmx else "customers/customer_data_quality.html"
    return render(request, template, {
        "access": access, "incomplete_below": INCOMPLETE_BELOW,
        "quality": data_quality(access, provenance=customer_field_provenance(customer_id=pk), sources=sources,
                                shown=SOURCES_SHOWN),
        "may_see_imports": profile is not None and profile.is_admin,
    })


@staff_required()
def my_book(request: HttpRequest) -> HttpResponse:
    table = CustomerTable(rm_book(rm_id=request.user.pk))
    table_configure(request, table)
    return render(request, "customers/my_book.html", {
        "table": table,
        "today": timezone.localdate(),
        "kyc_due": list(rm_kyc_reviews_due(rm_id=request.user.pk)[:20]),
    })


@staff_required(StaffProfile.Role.SUPERVISOR)
def branch_dashboard(request: HttpRequest) -> HttpResponse:
    profile = staff_profile_for_user(request.user)
    branches = list(Branch.objects.order_by("code")) if profile.is_admin else []
    branch = profile.branch
    if profile.is_admin:
        chosen = request.GET.get("branch")
        branch = next((b for b in branches if str(b.pk) == chosen), branches[0] if branches else None)
    if branch is None:
        messages.info(request, _("No branch yet: load the demo data or create a branch in the admin."))
        return redirect("customers:customer-list")
    computed = branch_summary_cached(branch_id=branch.pk, fresh=request.GET.get("refresh") == "1")
    summary = computed.value
    stage_chart = [
        (Customer.Lifecycle(code).label, summary.customers_by_stage.get(code, 0), code)
        for code in Customer.Lifecycle.values
    ]
    return render(request, "customers/branch_dashboard.html", {
        "branch": branch, "branches": branches, "summary": summary, "stage_chart": stage_chart,
        "computed_at": computed.computed_at,
        # Campaigns waiting for this supervisor's approval (the maker-checker queue), composed like a panel.
        "approvals_waiting": campaigns_waiting_for(profile=profile),
    })


@staff_required(StaffProfile.Role.SUPERVISOR)
def data_quality_league(request: HttpRequest) -> HttpResponse:
    """Completeness league tables: every branch bank-wide, and the RMs of one branch (the
    supervisor's own; an admin picks one), each with a link to its incomplete profiles."""
    profile = staff_profile_for_user(request.user)
    fresh = request.GET.get("refresh") == "1"
    league = branch_completeness_league(fresh=fresh)
    branch = profile.branch
    if profile.is_admin:
        ranked = [line.branch_id for line in league.branches]
        chosen = positive_int(request.GET.get("branch"), 0)
        branch_id = chosen if chosen in ranked else (ranked[0] if ranked else None)
        branch = Branch.objects.filter(pk=branch_id).first() if branch_id else None
    rm_rows = []
    if branch is not None:
        rm_rows = sorted(branch_summary_cached(branch_id=branch.pk, fresh=fresh).value.rm_books,
                         key=lambda row: (-(row["average_completeness"] or 0), row["incomplete"]))
    return render(request, "customers/data_quality.html", {
        "league": league, "branch": branch, "rm_rows": rm_rows, "incomplete_below": INCOMPLETE_BELOW,
        "branches": [(line.branch_id, line.code, line.name) for line in league.branches] if profile.is_admin else [],
        "chart": [(line.code, round(line.average, 1)) for line in league.branches],
    })
