"""The 360° page's panels as the viewer may see them: selector rows, masked per MASKING_RULES and
formatted for the reader's locale in Python, so the template only writes out text.

Formatting here rather than in template filters is deliberate: the page renders dozens of rows,
and a template filter per cell costs more than the query that fetched it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.timesince import timesince
from django.utils.translation import gettext, gettext_lazy

from crm_bank.ui.labels import ChoiceLabels
from crm_bank.ui.templatetags.crm_format import money, short_date
from customers.access import CustomerAccess
from customers.masking import is_masked_field
from customers.models import (
    FIELD_GROUPS,
    Account,
    AccountHolder,
    Channel,
    Customer,
    FieldGroup,
    Product,
    RMAssignment,
    Transaction,
)
from customers.models.customer import COMPLETENESS_TOTAL, Occupation
from customers.selectors import FieldChange, GroupProvenance, Holding, RMPeriod, SourceRow, TransactionRow

_CATEGORY = ChoiceLabels(Product.Category.choices)
_ROLE = ChoiceLabels(AccountHolder.Role.choices)
_STATUS = ChoiceLabels(Account.Status.choices)
_REPAYMENT = ChoiceLabels(Account.Repayment.choices)
_KIND = ChoiceLabels(Transaction.Kind.choices)
_CHANNEL = ChoiceLabels(Channel.choices)
_REASON = ChoiceLabels(RMAssignment.Reason.choices)


@dataclass(frozen=True, slots=True)
class HoldingLine:
    product: str
    category: str
    repayment: str
    number: str
    linked_number: str
    role: str
    opened: str
    status: str
    amount: str  # balance, or principal for a loan, or "" when the source reported none
    amount_is_principal: bool
    masked: bool


def holding_lines(access: CustomerAccess, holdings: list[Holding]) -> list[HoldingLine]:
    masked = access.masked
    categories, repayments = _CATEGORY.current(), _REPAYMENT.current()
    roles, statuses = _ROLE.current(), _STATUS.current()
    lines = []
    for h in holdings:
        amount, is_principal = "", False
        if not masked:
            if h.balance is not None:
                amount = money(h.balance, h.currency)
            elif h.principal is not None:
                amount, is_principal = money(h.principal, h.currency), True
        lines.append(HoldingLine(
            product=h.product_name,
            category=categories.get(h.category, h.category),
            repayment="" if masked or not h.repayment_status else repayments.get(h.repayment_status, ""),
            number=access.shown("account_number", h.number),
            linked_number=access.shown("linked_account_number", h.linked_number),
            role=roles.get(h.role, h.role),
            opened=access.shown("opened_on", h.opened_on) if masked else short_date(h.opened_on),
            status=statuses.get(h.status, h.status),
            amount=amount,
            amount_is_principal=is_principal,
            masked=masked,
        ))
    return lines


@dataclass(frozen=True, slots=True)
class TransactionLine:
    booked: str
    number: str
    kind: str
    channel: str
    purpose: str
    amount: str
    is_debit: bool
    balance_after: str


def transaction_lines(rows: list[TransactionRow], holdings: list[Holding]) -> list[TransactionLine]:
    """Only ever built for viewers who may see money (the view checks `access.may_see_money`)."""
    accounts = {h.account_id: h for h in holdings}
    kinds, channels = _KIND.current(), _CHANNEL.current()
    lines = []
    for row in rows:
        account = accounts[row.account_id]
        is_debit = row.direction == Transaction.Direction.DEBIT
        lines.append(TransactionLine(
            booked=short_date(row.booked_at),
            number=account.number,
            kind=kinds.get(row.kind, row.kind),
            channel=channels.get(row.channel, row.channel),
            purpose=row.purpose,
            amount=money(-row.amount if is_debit else row.amount, account.currency),
            is_debit=is_debit,
            balance_after=money(row.balance_after, account.currency),
        ))
    return lines


@dataclass(frozen=True, slots=True)
class RMLine:
    rm_name: str
    started: str
    ended: str  # "" while current
    reason: str


def rm_lines(access: CustomerAccess, periods: list[RMPeriod]) -> list[RMLine]:
    def when(moment: datetime | None) -> str:
        return access.shown("rm_period", moment) if access.masked else short_date(moment)

    return [RMLine(p.rm_name, when(p.started_at), when(p.ended_at), _REASON.get(p.reason, p.reason))
            for p in periods]


@dataclass(frozen=True, slots=True)
class ChangeLine:
    changed_at: datetime
    changed_by: str
    label: str
    old: str
    new: str
    masked: bool


def change_lines(access: CustomerAccess, changes: list[FieldChange]) -> list[ChangeLine]:
    """Field changes with each value shown as the identity panel shows it to this viewer."""
    lines = []
    for change in changes:
        masked = access.masked and is_masked_field(change.field)
        lines.append(ChangeLine(
            change.changed_at, change.changed_by, change.label,
            _change_text(access, change.field, change.old), _change_text(access, change.field, change.new), masked,
        ))
    return lines


def _change_text(access: CustomerAccess, field: str, value: object) -> str:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if value in (None, ""):
        return ""
    if access.masked:
        value = access.shown(field, value)
    if isinstance(value, date | datetime):
        return short_date(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class ValueLine:
    """The 80/20 value panel and header badge. `value` and `drivers` are empty for masked viewers:
    the score is built from balances and loans (MASKING_RULES "customer_value")."""

    tier: str
    change: str  # "up", "down", "same" or "new"
    previous_tier: str
    top_percent: str
    branch_rank: int
    value: str
    drivers: list[tuple[str, str]]
    as_of: str


_DRIVER_LABELS = {
    "deposits": gettext_lazy("Deposits kept with the bank"), "lending": gettext_lazy("Loans outstanding"),
    "cards": gettext_lazy("Card payments"), "fees": gettext_lazy("Fees paid"),
}


def value_line(access: CustomerAccess, summary) -> ValueLine | None:
    """`summary` is segmentation's CustomerValueSummary (the view fetches it), or None before a run."""
    if summary is None:
        return None
    shown = not access.masked
    drivers = sorted(summary.drivers.items(), key=lambda item: -item[1]) if shown else []
    return ValueLine(
        tier=summary.tier, change=summary.tier_change, previous_tier=summary.previous_tier,
        top_percent=number_format(round(summary.top_percent, 1), decimal_pos=1),
        branch_rank=summary.branch_rank,
        value=number_format(summary.value, decimal_pos=2, force_grouping=True) if shown else access.shown(
            "customer_value", summary.value),
        drivers=[(str(_DRIVER_LABELS.get(name, name)), number_format(amount, decimal_pos=2, force_grouping=True))
                 for name, amount in drivers if amount],
        as_of=short_date(summary.as_of),
    )


@dataclass(frozen=True, slots=True)
class SegmentLine:
    as_of: str
    segment: str
    rules: list[str]


def segment_lines(path: list) -> list[SegmentLine]:
    """`path` is segmentation's customer_segment_path (oldest first); the last line is the latest run.
    Segments are behaviour groups, not money: every member of staff sees them."""
    return [SegmentLine(short_date(step.as_of), step.segment_label, [rule.label for rule in step.rule_segments])
            for step in path]


# Scores from the published model-training run: response propensity and churn risk


@dataclass(frozen=True, slots=True)
class PredictionLine:
    """The scores panel: each score with its one-line reason, and the run's date."""

    as_of: str
    published: str
    churn_data_end: str  # the churn model's last transaction day
    propensity: str  # percent, "" without a score
    propensity_reason: str
    churn_level: str  # "high", "medium", "low"; "" without a score
    churn_level_label: str
    churn_top_percent: str  # "top x %" of the accounts the model was trained on
    churn_reason: str


_RESPONSE_DRIVERS = {
    "age": gettext_lazy("age"), "job": gettext_lazy("occupation"), "marital": gettext_lazy("marital status"),
    "education": gettext_lazy("education"),
    "default": gettext_lazy("credit in default"),
    "balance": gettext_lazy("account balance"),
    "housing": gettext_lazy("housing loan"),
    "loan": gettext_lazy("personal loan"),
    "poutcome": gettext_lazy("previous campaign outcome"),
    "previous": gettext_lazy("earlier contacts"), "pdays": gettext_lazy("days since the last contact"),
}
_CHURN_DRIVERS = {
    "transactions": gettext_lazy("own transactions in the last 90 days"),
    "transactions_last_30d_rate": gettext_lazy("own transactions in the last 30 days"),
    "transactions_trend": gettext_lazy("trend of activity"), "credit_count": gettext_lazy("incoming payments"),
    "debit_count": gettext_lazy("outgoing payments"),
    "credit_sum_log": gettext_lazy("money in"),
    "debit_sum_log": gettext_lazy("money out"),
    "net_flow_ratio": gettext_lazy("net flow of money"), "last_balance_log": gettext_lazy("balance"),
    "balance_change_ratio": gettext_lazy("change of balance"), "min_balance_log": gettext_lazy("lowest balance"),
    "days_since_last": gettext_lazy("days since the last own transaction"),
    "days_since_first": gettext_lazy("age of the account"),
    "cash_withdrawal_share": gettext_lazy("share of cash withdrawals"),
    "mean_amount_log": gettext_lazy("average amount"),
}
# What a masked viewer may not see of a driver's value (MASKING_RULES): the response model's balance
# and credit default (the holdings' repayment status), and everything the churn model reads (it is all
# transactions).
_RESPONSE_MONEY = {"balance": "balance", "default": "repayment_status"}
_NO_SCORE = {
    "no_transactions": gettext_lazy(
        "No score: the customer's own accounts have no transactions before the model's date."
    ),
    "too_new": gettext_lazy("No score: the account is younger than the model's observation window."),
    "too_quiet": gettext_lazy("No score: too few own transactions in the observation window to judge."),
}
_REQUIRED_INPUTS = {"age": gettext_lazy("age"), "marital_status": gettext_lazy("marital status"),
                    "current_account": gettext_lazy("a current account")}
_CHURN_LEVELS = {"high": gettext_lazy("high"), "medium": gettext_lazy("medium"), "low": gettext_lazy("low")}
_CODES = {
    "success": gettext_lazy("success"),
    "failure": gettext_lazy("failure"),
    "unknown": gettext_lazy("unknown"),
    "yes": gettext_lazy("yes"),
    "no": gettext_lazy("no"), "never": gettext_lazy("never"),
    **dict(Occupation.choices), **dict(Customer.MaritalStatus.choices), **dict(Customer.Education.choices),
}


def _driver_value(detail: str) -> str:
    try:
        number = float(detail)
    except ValueError:
        return str(_CODES.get(detail, detail))
    if number.is_integer():
        return number_format(int(number), force_grouping=True)
    return number_format(round(number, 2), decimal_pos=2, force_grouping=True)


def _reason(access: CustomerAccess, *, driver: str, detail: str, up: bool | None, labels: dict,
            masked_as: str | None) -> str:
    value = _driver_value(detail)
    if masked_as is not None and access.masked:
        value = access.shown(masked_as, value)
    text = gettext("Raised mainly by %(driver)s: %(value)s") if up else gettext(
        "Lowered mainly by %(driver)s: %(value)s")
    return text % {"driver": labels.get(driver, driver), "value": value}


def _propensity_text(access: CustomerAccess, summary) -> tuple[str, str]:
    if summary.propensity is None:
        missing = [str(_REQUIRED_INPUTS.get(name, name)) for name in summary.propensity_detail.split(",") if name]
        return "", gettext("No score: the response model needs %(inputs)s, not recorded for this customer.") % {
            "inputs": ", ".join(missing)}
    return number_format(round(100 * summary.propensity, 1), decimal_pos=1), _reason(
        access, driver=summary.propensity_reason, detail=summary.propensity_detail, up=summary.propensity_up,
        labels=_RESPONSE_DRIVERS, masked_as=_RESPONSE_MONEY.get(summary.propensity_reason))


def _churn_text(access: CustomerAccess, summary) -> tuple[str, str]:
    if summary.churn_risk is None:
        return "", str(_NO_SCORE.get(summary.churn_reason, summary.churn_reason))
    return number_format(max(1, round(100 * (1 - summary.churn_percentile)))), _reason(
        access, driver=summary.churn_reason, detail=summary.churn_detail, up=summary.churn_up, labels=_CHURN_DRIVERS,
        masked_as="transactions")


_NEXT_PRODUCT_REASONS = {
    "rule": gettext_lazy("%(share)s %% of customers in “%(segment)s” who hold %(held)s also hold %(product)s "
                         "(measured on %(customers)s customers)."),
    "bank_rule": gettext_lazy("%(share)s %% of the bank's customers who hold %(held)s also hold %(product)s "
                              "(measured on %(customers)s customers)."),
    "segment": gettext_lazy("%(share)s %% of customers in “%(segment)s” hold %(product)s (measured on "
                            "%(customers)s customers)."),
    "bank": gettext_lazy("%(share)s %% of the bank's customers hold %(product)s, the most common product they do "
                         "not hold yet (measured on %(customers)s customers)."),
    "propensity": gettext_lazy("The response model gives a %(share)s %% chance that they accept a %(product)s "
                               "offer."),
}


def next_product_reason(next_product) -> str:
    """Why `next_product` (segmentation's NextProduct) is suggested, in one sentence with its figures."""
    return str(_NEXT_PRODUCT_REASONS[next_product.basis]) % {
        "share": number_format(round(100 * next_product.score), force_grouping=True),
        "segment": next_product.segment_label, "product": next_product.product_label,
        "held": next_product.antecedent_label,
        "customers": number_format(next_product.measured_on or 0, force_grouping=True),
    }


def prediction_line(access: CustomerAccess, summary) -> PredictionLine | None:
    """`summary` is segmentation's CustomerPredictionSummary (its panel view fetches it), or None."""
    if summary is None:
        return None
    propensity, propensity_reason = _propensity_text(access, summary)
    top, churn_reason = _churn_text(access, summary)
    return PredictionLine(
        as_of=short_date(summary.as_of), published=short_date(summary.published_at),
        churn_data_end=short_date(summary.churn_data_end), propensity=propensity,
        propensity_reason=propensity_reason, churn_level=summary.churn_level,
        churn_level_label=str(_CHURN_LEVELS.get(summary.churn_level, "")), churn_top_percent=top,
        churn_reason=churn_reason,
    )


# Field groups whose values go out of date: the panel asks staff to confirm them when no source has
# for CRM_DATA_STALE_DAYS. Names, IDs and birth dates do not age; branch and RM are the bank's own.
AGEING_GROUPS = (FieldGroup.CONTACT, FieldGroup.ADDRESS, FieldGroup.CONSENT)
_GROUP_NAMES = {
    FieldGroup.IDENTITY: gettext_lazy("Identity"), FieldGroup.CONTACT: gettext_lazy("Phone and e-mail"),
    FieldGroup.ADDRESS: gettext_lazy("Address"), FieldGroup.CONSENT: gettext_lazy("Consent and preferences"),
    FieldGroup.RELATIONSHIP: gettext_lazy("Branch and RM"),
}


@dataclass(frozen=True, slots=True)
class MissingField:
    label: str
    points: int  # how much the completeness score rises when it is filled in


@dataclass(frozen=True, slots=True)
class FreshnessLine:
    group: str
    source: str  # "" when nothing records where the group came from
    set_on: str
    age: str
    stale: bool
    as_loaded: bool  # no source or member of staff has set the group since the record was loaded
    missing: list[str]


@dataclass(frozen=True, slots=True)
class SourceLine:
    system: str
    external_id: str
    received: str
    updated: str
    batch_id: int | None
    payload: list[tuple[str, str]]  # empty for masked viewers: a raw row carries IDs and contacts


@dataclass(frozen=True, slots=True)
class DataQuality:
    completeness: int
    missing: list[MissingField]
    freshness: list[FreshnessLine]
    sources: list[SourceLine]
    more_sources: bool


def data_quality(
    access: CustomerAccess, *, provenance: dict[str, GroupProvenance], sources: list[SourceRow], shown: int,
    now: datetime | None = None,
) -> DataQuality:
    """Completeness with what is missing, each field group's freshness (the source that last set
    it, or the newest source record when none has since loading) and the customer's sources."""
    now = now or timezone.now()
    customer = access.customer
    missing_names = customer.completeness_gaps
    newest = sources[0] if sources else None
    freshness = []
    for group, label in _GROUP_NAMES.items():
        recorded = provenance.get(group)
        if recorded is not None:
            source, moment = recorded.source_name, recorded.set_at
        elif newest is not None:
            source, moment = newest.system_name, newest.updated_at or newest.received_at
        else:
            source, moment = "", customer.created_at
        freshness.append(FreshnessLine(
            group=str(label), source=source, set_on=short_date(moment), age=timesince(moment, now, depth=1),
            stale=group in AGEING_GROUPS and (now - moment).days > settings.CRM_DATA_STALE_DAYS,
            as_loaded=recorded is None,
            missing=[_field_label(name) for name, _ in missing_names if FIELD_GROUPS.get(name) == group],
        ))
    return DataQuality(
        completeness=customer.completeness_percent,
        missing=[MissingField(_field_label(name), round(100 * weight / COMPLETENESS_TOTAL))
                 for name, weight in sorted(missing_names, key=lambda item: -item[1])],
        freshness=freshness,
        sources=[SourceLine(
            system=row.system_name or row.system_code,
            external_id=access.shown("source_key", row.external_id),
            received=short_date(row.received_at), updated=short_date(row.updated_at), batch_id=row.batch_id,
            payload=[] if access.masked else [(str(key), "" if value is None else str(value))
                                              for key, value in row.payload.items()],
        ) for row in sources[:shown]],
        more_sources=len(sources) > shown,
    )


def _field_label(name: str) -> str:
    return str(capfirst(Customer._meta.get_field(name).verbose_name))
