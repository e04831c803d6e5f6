"""The fixed registry of KPI measures: SQL written in code, one per business figure. A KPI definition
(performance.models.Kpi, edited in admin) names one of these; a bank adds a measure by adding code
here, never by typing SQL into a form.

Each measure is a SELECT of rows (customer_id, rm_id, branch_id, num, den, channel, stage) for
the period [start, end) — one row per customer, account, contact or complaint that counts — that the
KPI run sums per RM and per branch (GROUPING SETS) and the diagnosis per group (channel and stage are
NULL where the measure has none: a campaign contact's stage is how far it got). A "total" measure's
actual is the sum of `num`; a "ratio" measure's is sum(num) ÷ sum(den) (× 100 for a percentage).
Customers count for their RM and home branch at the time of the run (a KPI run is made when its
period has just closed, and past periods stay as their runs published them); complaints count for
their owner and branch.

Parameters every query may use: %(start)s and %(end)s (aware datetimes, the period's first instant
and the next period's), %(start_day)s and %(end_day)s (dates), %(value_run)s (the published
value-scoring run, 0 before the first), %(rates)s / %(currencies)s (the reporting currency's rates).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from campaigns.models import CampaignContact
from channels.models import Complaint, ComplaintEvent, Interaction
from crm_bank.dates import day_start
from customers.models import Account, AccountHolder, Customer, Product, Transaction
from segmentation.models import CustomerValue

# The tables the measures read (the apps below this one own them).
CUSTOMER = Customer._meta.db_table
ACCOUNT = Account._meta.db_table
HOLDER = AccountHolder._meta.db_table
PRODUCT = Product._meta.db_table
TRANSACTION = Transaction._meta.db_table
INTERACTION = Interaction._meta.db_table
COMPLAINT = Complaint._meta.db_table
CONTACT = CampaignContact._meta.db_table
VALUE = CustomerValue._meta.db_table
COMPLAINT_EVENT = ComplaintEvent._meta.db_table

# The RM a complaint x counts for: its last owner at the case-owner level (a book transfer moves it
# to the new RM; an escalation on breach does not), else its owner (a case opened above that level).
_CASE_OWNER_RM = (f"coalesce((SELECT e.to_owner_id FROM {COMPLAINT_EVENT} e WHERE e.complaint_id = x.id"
                f" AND e.level = 0 AND e.kind = 'assigned' AND e.to_owner_id IS NOT NULL"
                " ORDER BY e.at DESC, e.id DESC LIMIT 1), x.owner_id)")


SCOPE_MARKER = " /*scope*/"


def account_open_on(account: str, day: str) -> str:
    """SQL: account `account` (an alias) was open on the day `day` (a parameter or expression): opened
    before it (or on a day the source did not say) and not closed before it."""
    return (f"({account}.opened_on IS NULL OR {account}.opened_on < {day})"
            f" AND ({account}.closed_on IS NULL OR {account}.closed_on >= {day})")


# How far a campaign contact got (its last outcome): the funnel stage a diagnosis groups by.
_STAGE = """CASE WHEN k.outcome = 'accepted' THEN 'converted'
                        WHEN k.outcome IN ('interested', 'call_back') THEN 'interested'
                        WHEN k.outcome IN ('declined', 'dnc') THEN 'declined'
                        ELSE 'not_reached' END"""


@dataclass(frozen=True)
class Measure:
    code: str
    label: str
    unit: str  # performance.models.Kpi.Unit
    direction: str  # the usual direction: "higher" or "lower"
    ratio: bool  # actual = sum(num) / sum(den); else sum(num)
    sql: str
    # What the numerator and denominator count, for the scorecard's "where this comes from".
    counts: str = ""
    # The diagnosis groupings beyond tier, segment and RM that its rows carry ("channel", "stage").
    groupings: tuple[str, ...] = ()
    # The columns its rows' RM and branch come from (the SQL's /*scope*/ marker narrows to one).
    rm_column: str = "c.primary_rm_id"
    branch_column: str = "c.home_branch_id"

    def sql_for(self, scope: str | None) -> str:
        """The SQL for every RM and branch (scope None: the KPI run), or for the one RM or branch whose
        id is the parameter %(scope_id)s — narrowed where the rows are read, so a page about one
        branch never reads the whole bank's."""
        column = {"rm": self.rm_column, "branch": self.branch_column}.get(scope or "")
        return self.sql.replace(SCOPE_MARKER, f" AND {column} = %(scope_id)s" if column else "")

    @property
    def percent(self) -> bool:
        return self.unit == "percent"


_MEASURE_LIST = (
    Measure(
        "new_customers", _("New customers acquired"), "count", "higher", False,
        f"SELECT c.id, c.primary_rm_id, c.home_branch_id, 1, 1, NULL::text, NULL::text FROM {CUSTOMER} c"
        " WHERE c.merged_into_id IS NULL"
        " AND c.customer_since >= %(start_day)s AND c.customer_since < %(end_day)s /*scope*/",
        counts=_("customers who became customers in the period"),
    ),
    Measure(
        "net_deposit_growth", _("Net deposit growth"), "amount", "higher", False,
        f"""SELECT c.id, c.primary_rm_id, c.home_branch_id,
                   CASE WHEN t.direction = 'credit' THEN t.amount ELSE -t.amount END::float8 * r.rate, 1, t.channel,
                   NULL::text
            FROM {TRANSACTION} t
            JOIN {ACCOUNT} a ON a.id = t.account_id
            JOIN {PRODUCT} p ON p.id = a.product_id AND p.category IN ('current', 'deposit')
            JOIN {HOLDER} h ON h.account_id = a.id AND h.role = 'owner'
            JOIN {CUSTOMER} c ON c.id = h.customer_id AND c.merged_into_id IS NULL
            JOIN unnest(%(currencies)s::text[], %(rates)s::float8[]) AS r(currency, rate) ON r.currency = a.currency
            WHERE t.booked_at >= %(start)s AND t.booked_at < %(end)s /*scope*/""",
        counts=_("money paid into current and deposit accounts less money paid out, in the reporting currency"),
        groupings=("channel",),
    ),
    Measure(
        "products_per_customer", _("Products per customer"), "ratio", "higher", True,
        f"""SELECT c.id, c.primary_rm_id, c.home_branch_id, count(*), 1, NULL::text, NULL::text
            FROM {CUSTOMER} c
            JOIN {HOLDER} h ON h.customer_id = c.id
            JOIN {ACCOUNT} a ON a.id = h.account_id
            WHERE c.merged_into_id IS NULL AND {account_open_on("a", "%(end_day)s")} /*scope*/
            GROUP BY c.id""",
        counts=_("holdings open at the period's end, over the customers holding any"),
    ),
    Measure(
        "campaign_conversion", _("Campaign conversion rate"), "percent", "higher", True,
        f"""SELECT c.id, c.primary_rm_id, c.home_branch_id, (k.outcome = 'accepted')::int, 1, k.channel,
                   {_STAGE}
            FROM {CONTACT} k JOIN {CUSTOMER} c ON c.id = k.customer_id AND c.merged_into_id IS NULL
            WHERE k.attempts > 0 AND k.contacted_on >= %(start_day)s AND k.contacted_on < %(end_day)s /*scope*/""",
        counts=_("campaign contacts in the period that converted, over all contacted"),
        groupings=("channel", "stage"),
    ),
    Measure(
        "tier_a_coverage", _("Contact coverage of tier-A customers"), "percent", "higher", True,
        f"""SELECT c.id, c.primary_rm_id, c.home_branch_id,
                   EXISTS (SELECT 1 FROM {INTERACTION} i WHERE i.customer_id = c.id
                           AND i.occurred_at >= %(start)s AND i.occurred_at < %(end)s)::int, 1, NULL::text, NULL::text
            FROM {VALUE} v JOIN {CUSTOMER} c ON c.id = v.customer_id AND c.merged_into_id IS NULL
            WHERE v.run_id = %(value_run)s AND v.tier = 'A' /*scope*/""",
        counts=_("tier-A customers (published value run) contacted in the period, over all tier-A customers"),
    ),
    Measure(
        "complaint_sla", _("Complaints resolved within SLA"), "percent", "higher", True,
        # Counted for the RM who owned the case at its owner level: a case that breaches its SLA is
        # escalated away from the RM, and counted by its current owner it left the RM's figure exactly
        # when it missed.
        f"""SELECT x.customer_id, {_CASE_OWNER_RM}, x.branch_id, (x.resolved_at <= x.sla_due_at)::int, 1, x.channel,
                   NULL::text
            FROM {COMPLAINT} x WHERE x.resolved_at >= %(start)s AND x.resolved_at < %(end)s /*scope*/""",
        counts=_("complaints resolved in the period by their SLA deadline, over all resolved"),
        groupings=("channel",), rm_column=_CASE_OWNER_RM, branch_column="x.branch_id",
    ),
    Measure(
        "skip_level_complaints", _("Skip-level complaints"), "count", "lower", False,
        f"""SELECT x.customer_id, x.owner_id, x.branch_id, 1, 1, x.channel, NULL::text FROM {COMPLAINT} x
            WHERE x.is_skip_level AND x.opened_at >= %(start)s AND x.opened_at < %(end)s /*scope*/""",
        counts=_("complaints made over the branch's head in the period"),
        groupings=("channel",), rm_column="x.owner_id", branch_column="x.branch_id",
    ),
    Measure(
        "retention_rate", _("Retention rate"), "percent", "higher", True,
        f"""SELECT c.id, c.primary_rm_id, c.home_branch_id,
                   bool_or(a.closed_on IS NULL OR a.closed_on >= %(end_day)s)::int, 1, NULL::text, NULL::text
            FROM {CUSTOMER} c
            JOIN {HOLDER} h ON h.customer_id = c.id
            JOIN {ACCOUNT} a ON a.id = h.account_id
            WHERE c.merged_into_id IS NULL AND {account_open_on("a", "%(start_day)s")} /*scope*/
            GROUP BY c.id""",
        counts=_("customers holding an open account at the start who still hold one at the end"),
    ),
    Measure(
        "data_completeness", _("Data completeness"), "percent", "higher", True,
        f"SELECT c.id, c.primary_rm_id, c.home_branch_id, c.completeness / 100.0, 1, NULL::text, NULL::text"
        f" FROM {CUSTOMER} c"
        " WHERE c.merged_into_id IS NULL AND c.lifecycle_stage <> 'closed' /*scope*/",
        counts=_("average completeness of the open customer records"),
    ),
    Measure(
        "kyc_on_time", _("KYC reviews on time"), "percent", "higher", True,
        f"""SELECT c.id, c.primary_rm_id, c.home_branch_id, (c.kyc_review_due >= %(end_day)s)::int, 1,
                   NULL::text, NULL::text
            FROM {CUSTOMER} c WHERE c.merged_into_id IS NULL AND c.lifecycle_stage <> 'closed'
              AND c.kyc_review_due IS NOT NULL /*scope*/""",
        counts=_("customers whose KYC review is not overdue at the period's end, over those with a review date"),
    ),
)
MEASURES: dict[str, Measure] = {measure.code: measure for measure in _MEASURE_LIST}


# Periods: a month "2026-11" or a quarter "2026-Q4".

# ASCII digits only (\\d takes full-width ones) and to the very end (`$` allows a final newline).
_PERIOD = re.compile(r"(?P<year>[0-9]{4})-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4]))")


class PeriodInvalid(ValueError):
    pass


def period_days(period: str) -> tuple[datetime.date, datetime.date]:
    """The period's first day and the next period's first day; PeriodInvalid for anything else than
    "YYYY-MM" or "YYYY-Qn"."""
    match = _PERIOD.fullmatch(period or "")
    if match is None:
        raise PeriodInvalid(period)
    year = int(match["year"])
    first_month = int(match["month"]) if match["month"] else 3 * int(match["quarter"]) - 2
    months = 1 if match["month"] else 3
    end_month = first_month + months
    try:  # year 0000 and 9999-12 match the pattern but have no first day or no next period
        start = datetime.date(year, first_month, 1)
        end = datetime.date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    except ValueError:
        raise PeriodInvalid(period) from None
    return start, end


def measure_params(period: str, /, *, value_run: int | None, **extra: object) -> dict:
    """The parameters every measure's SQL reads for `period`: its bounds as moments (start, end) and
    days (start_day, end_day), the published value run, the reporting-currency rates; plus `extra`."""
    start, end = period_days(period)
    rates = settings.CRM_CURRENCY_RATES
    return {"start": day_start(start), "end": day_start(end), "start_day": start, "end_day": end,
            "value_run": value_run or 0, "currencies": list(rates), "rates": list(rates.values()), **extra}


def period_previous(period: str, count: int = 1) -> list[str]:
    """The `count` periods before `period`, oldest first, of the same kind (months or quarters)."""
    start, _end = period_days(period)
    quarterly = "Q" in period
    step = 3 if quarterly else 1
    periods = []
    year, month = start.year, start.month
    for _step in range(count):
        month -= step
        if month < 1:
            month, year = month + 12, year - 1
        periods.append(f"{year}-Q{(month - 1) // 3 + 1}" if quarterly else f"{year}-{month:02d}")
    return list(reversed(periods))


def period_of(day: datetime.date) -> str:
    """The month a day falls in, as a period."""
    return f"{day.year}-{day.month:02d}"


def period_last_day(period: str) -> datetime.date:
    start, end = period_days(period)
    return end - datetime.timedelta(days=1)
