"""Loads the public data sets into the CRM as the demo bank, in one transaction.

1. Every file is read and validated first; a bad value stops here, nothing written.
2. Branches (PKDD districts + the call centre), departments and demo staff.
3. PKDD'99 clients → customers; accounts, loans, cards → holdings; standing orders;
   the transactions present (the file ends on 1994-03-30).
4. UCI Bank Marketing `bank-full` → call-centre customers and one historic campaign.
5. The contacts the data implies on the timeline (demo/interactions.py): counter visits, ATM
   withdrawals and sales from PKDD'99, the campaign's calls; then the daily rollup and the
   customers' last contacts.
Each source is loaded once: a second run finds its rows and skips it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from campaigns.models import Campaign, CampaignContact
from channels.models import Interaction
from crm_bank.bulk import allocate_ids, copy_rows, tables_analyze
from crm_bank.org.models import Branch, Department
from crm_bank.org.services import branches_ensure, demo_staff_ensure, departments_ensure
from customers.history import customer_history_baseline
from customers.models import (
    Account,
    AccountHolder,
    Channel,
    Customer,
    Household,
    Product,
    RMAssignment,
    SourceRecord,
    StandingOrder,
    Transaction,
)
from customers.naming import customer_name_keys
from customers.services import products_ensure, source_systems_builtin_ensure
from demo.files import DemoDataError
from demo.interactions import demo_interactions_derive
from demo.pkdd import TRANSACTIONS_FILE, PkddData, pkdd_available, pkdd_read
from demo.uci import BANK_FULL_FILE, uci_available, uci_read

PKDD_FOLDER = "berka_pkdd99"
UCI_FOLDER = "bank_marketing_uci"
CALL_CENTRE_BRANCH = "CC"
UCI_CAMPAIGN_CODE = "UCI-TM-2008"
# Bank policy used to schedule reviews from real onboarding dates: standard-risk customers
# are reviewed every five years.
KYC_REVIEW_YEARS = 5

PRODUCTS = (
    ("CZ-CURRENT", "Current account", Product.Category.CURRENT, "CZK"),
    ("CZ-LOAN", "Consumer loan", Product.Category.LOAN, "CZK"),
    ("CZ-CARD-CLASSIC", "Classic debit card", Product.Category.CARD, "CZK"),
    ("CZ-CARD-JUNIOR", "Junior debit card", Product.Category.CARD, "CZK"),
    ("CZ-CARD-GOLD", "Gold card", Product.Category.CARD, "CZK"),
    ("PT-CURRENT", "Current account (EUR)", Product.Category.CURRENT, "EUR"),
    ("PT-MORTGAGE", "Housing loan (EUR)", Product.Category.MORTGAGE, "EUR"),
    ("PT-PERSONAL", "Personal loan (EUR)", Product.Category.LOAN, "EUR"),
    ("PT-TERM", "Term deposit (EUR)", Product.Category.DEPOSIT, "EUR"),
)

CUSTOMER_DEFAULTS: dict[str, object] = {
    "kind": Customer.Kind.INDIVIDUAL, "first_name": "", "last_name": "", "legal_name": "",
    "national_id_type": "", "national_id": "", "birth_date": None, "gender": "", "occupation": "",
    "marital_status": "", "education": "", "phone": "", "email": "", "address_line": "", "city": "",
    "postal_code": "", "country": "", "primary_rm_id": None, "lifecycle_stage": Customer.Lifecycle.CUSTOMER,
    "customer_since": None, "preferred_channel": "", "preferred_contact_time": Customer.ContactTime.ANY,
    "preferred_language": "", "interests": [], "marketing_consent": False, "marketing_consent_at": None,
    "marketing_consent_source": "", "do_not_contact": False, "kyc_review_due": None, "household_id": None,
    "household_role": "", "last_contact_at": None, "last_contact_channel": "",
}
ACCOUNT_DEFAULTS: dict[str, object] = {
    "linked_account_id": None, "closed_on": None, "status": Account.Status.ACTIVE, "balance": None,
    "balance_as_of": None, "statement_frequency": "", "principal": None, "term_months": None,
    "instalment": None, "repayment_status": "",
}


@dataclass
class LoadReport:
    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, table: str, count: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + count


def dataset_folder(explicit: str | None) -> Path | None:
    """--data DIR, else $CRM_DATASETS / ../shared/datasets, when it holds either data set.

    Only the default location may lack them (None: the caller builds a synthetic bank instead); a
    folder the user named that is missing or holds neither is a DemoDataError, since a typo must
    not quietly give another bank.
    """
    folder = Path(explicit or settings.CRM_DATASETS)
    if pkdd_available(folder / PKDD_FOLDER) or uci_available(folder / UCI_FOLDER):
        return folder
    if explicit is None:
        return None
    if not folder.is_dir():
        raise DemoDataError(f"{folder}: no such folder")
    raise DemoDataError(
        f"{folder}: holds neither data set (expected {PKDD_FOLDER}/client.asc with {PKDD_FOLDER}/"
        f"{TRANSACTIONS_FILE}, or {UCI_FOLDER}/{BANK_FULL_FILE})"
    )


def demo_is_loaded() -> bool:
    return Customer.objects.exists()


def demo_load(
    *, folder: Path, password: str, sample: int | None = None, log: Callable[[str], None] = print
) -> LoadReport:
    """Loads whatever of the two data sets is present and not yet loaded (see module doc)."""
    started = time.monotonic()
    report = LoadReport()
    pkdd_dir, uci_dir = folder / PKDD_FOLDER, folder / UCI_FOLDER
    if not pkdd_available(pkdd_dir) and not uci_available(uci_dir):
        raise DemoDataError(f"{folder}: neither {PKDD_FOLDER}/ nor {UCI_FOLDER}/ holds the data files")
    source_systems_builtin_ensure()
    pkdd_done = SourceRecord.objects.filter(system=SourceRecord.System.PKDD_CORE).exists()
    uci_done = Campaign.objects.filter(code=UCI_CAMPAIGN_CODE).exists()
    pkdd = pkdd_read(pkdd_dir, sample_accounts=sample) if pkdd_available(pkdd_dir) and not pkdd_done else None
    uci = uci_read(uci_dir, sample_rows=sample) if uci_available(uci_dir) and not uci_done else None
    if pkdd_done:
        report.skipped.append("PKDD'99 already loaded")
    if uci_done:
        report.skipped.append("UCI Bank Marketing campaign already loaded")
    if pkdd is None and uci is None:
        # A bank loaded before the timeline existed gets its contacts now (nothing when it has them).
        with transaction.atomic():
            written = demo_interactions_derive()
        if written:
            report.add(Interaction._meta.db_table, written)
        report.seconds = time.monotonic() - started
        return report
    with transaction.atomic():
        departments = departments_ensure()
        districts = [] if pkdd is None else [
            (f"{d.district_id:02d}", d.name, d.region) for d in pkdd.districts.itertuples()
        ]
        branches = branches_ensure(
            branches=[*districts, (CALL_CENTRE_BRANCH, "Call centre (telemarketing)", "Remote channels")]
        )
        rms_by_branch = demo_staff_ensure(branches=branches.values(), password=password)
        products = products_ensure(catalogue=PRODUCTS)
        if pkdd is not None:
            log(f"PKDD'99: {len(pkdd.clients):,} clients, {len(pkdd.transactions):,} transactions")
            _load_pkdd(pkdd, branches, rms_by_branch, products, departments["RETAIL"], report)
        if uci is not None:
            log(f"UCI Bank Marketing: {len(uci):,} telemarketing contacts")
            _load_uci(uci, branches[CALL_CENTRE_BRANCH], rms_by_branch, products, departments["CALLCENTRE"], report)
        log("Contacts implied by the data: counter visits, ATM withdrawals, sales, campaign calls")
        report.add(Interaction._meta.db_table, demo_interactions_derive())
    # Planner statistics for the bulk-copied tables: without them (and with autovacuum off or not yet
    # round) PostgreSQL takes every table for one row, and the first value run's feature step joins
    # a chunk's transactions to its accounts by nested loops for many minutes instead of seconds.
    tables_analyze(*report.rows)
    report.seconds = time.monotonic() - started
    return report


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _start_of(day: date | None) -> datetime | None:
    return None if day is None or pd.isna(day) else datetime.combine(day, clock.min, tzinfo=_tz())


def _kyc_review_due(since: date | None, today: date) -> date | None:
    """The next five-yearly review date on or after today, counted from onboarding."""
    if since is None:
        return None
    def years_after(day: date, years: int) -> date:
        try:
            return day.replace(year=day.year + years)
        except ValueError:  # 29 February in a year without one
            return day.replace(year=day.year + years, day=28)

    periods = max(0, today.year - since.year) // KYC_REVIEW_YEARS
    due = years_after(since, periods * KYC_REVIEW_YEARS)
    while due < today:
        periods += 1
        due = years_after(since, periods * KYC_REVIEW_YEARS)
    return due


# Neither public file records marketing consent; without any, no campaign could target anybody. This
# share of the loaded customers is given a consent, drawn from the customer's number (the same every
# load), dated when the data says they were reached; the data notes page says so.
DEMO_CONSENT_SHARE = 0.6


def demo_consent(key: int, *, at: datetime | None, source: str) -> dict[str, object]:
    """The consent fields of a loaded customer: consent for DEMO_CONSENT_SHARE of the numbers `key`
    (a multiplicative hash, so neighbouring numbers do not consent alike), none for the rest."""
    if (key * 2654435761 % 2**32) / 2**32 >= DEMO_CONSENT_SHARE:
        return {}
    return {"marketing_consent": True, "marketing_consent_at": at or timezone.now(),
            "marketing_consent_source": source}


def _customer_row(**values: object) -> dict[str, object]:
    row = {**CUSTOMER_DEFAULTS, **values}
    row["name_key"], row["name_key_reversed"] = customer_name_keys(
        kind=row["kind"], first_name=row["first_name"], last_name=row["last_name"], legal_name=row["legal_name"]
    )
    row["interests"] = list(row["interests"])
    row["attributes"] = Jsonb(row.get("attributes", {}))
    row["created_at"] = row["updated_at"] = timezone.now()
    return row


def _copy_dicts(model, rows: list[dict[str, object]], report: LoadReport) -> None:
    if not rows:
        return
    columns = list(rows[0])
    report.add(model._meta.db_table, copy_rows(model, columns, ([r[c] for c in columns] for r in rows)))


def _load_pkdd(pkdd: PkddData, branches, rms_by_branch, products, department: Department, report: LoadReport) -> None:
    """PKDD'99 → holdings, then the customers who hold them, then the money that moved."""
    account_branch = {a.account_id: branches[f"{a.district_id:02d}"].pk for a in pkdd.accounts.itertuples()}
    account_ids, holder_rows = _pkdd_holdings(pkdd, account_branch, products, report)
    customer_ids = _pkdd_customers(pkdd, branches, account_branch, rms_by_branch, holder_rows, department, report)
    _copy_dicts(AccountHolder, [
        {"account_id": account_pk, "customer_id": customer_ids[client_id], "role": role, "since": since}
        for account_pk, client_id, role, since in holder_rows
    ], report)
    _pkdd_orders_and_transactions(pkdd, account_ids, report)


def pkdd_closing_balances(transactions: pd.DataFrame) -> pd.DataFrame:
    """Per account, the running balance after its last day in the file and that day ("balance",
    "as_of", indexed by account_id).

    The file dates its transactions without a time, and on a day with several the transaction ids
    are not always in booking order (interest and the monthly fee on the last day of a month come
    either way round). So the day closes on the balance no other row of that day started from (a
    row's balance less its signed amount is the balance before it); the last row by id only when
    the rows do not tell (two candidates, or none: the amounts do not add up that day).
    """
    ordered = transactions.sort_values(["account_id", "booked_on", "trans_id"])
    last_day = ordered.groupby("account_id")["booked_on"].transform("max")
    day = ordered.loc[ordered["booked_on"] == last_day, ["account_id", "booked_on", "balance", "amount", "direction"]]
    # In whole hundredths (the money columns are text with two decimals): exact comparisons.
    cents = (day["balance"].astype(float) * 100).round().astype("int64")
    amount = (day["amount"].astype(float) * 100).round().astype("int64")
    before = cents - amount.where(day["direction"] == "credit", -amount)
    started_from = pd.DataFrame({"account_id": day["account_id"], "cents": before}).drop_duplicates()
    rows = pd.DataFrame({"account_id": day["account_id"], "cents": cents, "balance": day["balance"]})
    marked = rows.merge(started_from, on=["account_id", "cents"], how="left", indicator=True)
    candidates = marked.loc[marked["_merge"] == "left_only"]
    per_account = candidates["account_id"].value_counts()
    single = candidates.loc[candidates["account_id"].isin(per_account.index[per_account == 1])].set_index("account_id")
    last = day.groupby("account_id").last()
    balance = last["balance"].copy()
    balance.loc[single.index] = single["balance"]
    return pd.DataFrame({"balance": balance, "as_of": last["booked_on"]})


def _pkdd_holdings(pkdd: PkddData, account_branch, products, report: LoadReport):
    """Accounts, loans and cards as holdings; returns {PKDD account id: pk} and the holder rows
    (account pk, client id, role, since)."""
    accounts = pkdd.accounts.set_index("account_id")
    # Current accounts, with the bank's own running balance after the last transaction in the file,
    # not a sum of amounts: the bank's figure is the balance, and the file's amounts do not always add
    # up to it (client 557: 17,447.80 summed, 17,447.70 booked).
    closing = pkdd_closing_balances(pkdd.transactions)
    account_ids = dict(zip(accounts.index, allocate_ids(Account, len(accounts)), strict=True))
    rows = []
    for account_id, account in accounts.iterrows():
        has_balance = account_id in closing.index
        rows.append({**ACCOUNT_DEFAULTS, "id": account_ids[account_id], "number": str(account_id),
                     "product_id": products["CZ-CURRENT"].pk, "branch_id": account_branch[account_id],
                     "opened_on": account["opened_on"], "currency": "CZK",
                     "balance": Decimal(closing.at[account_id, "balance"]) if has_balance else None,
                     "balance_as_of": closing.at[account_id, "as_of"] if has_balance else None,
                     "statement_frequency": account["frequency"], "source_ref": f"pkdd:account:{account_id}"})
    # Loans and cards, each drawn on a current account.
    owners = pkdd.dispositions[pkdd.dispositions["role"] == "owner"].set_index("account_id")["client_id"]
    holder_rows: list[tuple[int, int, str, date]] = []  # (account pk, client_id, role, since)
    loan_ids = allocate_ids(Account, len(pkdd.loans))
    for loan, pk in zip(pkdd.loans.itertuples(), loan_ids, strict=True):
        finished = loan.repayment in ("paid", "defaulted")
        rows.append({**ACCOUNT_DEFAULTS, "id": pk, "number": f"L-{loan.loan_id}", "product_id": products["CZ-LOAN"].pk,
                     "branch_id": account_branch[loan.account_id], "linked_account_id": account_ids[loan.account_id],
                     "opened_on": loan.opened_on, "currency": "CZK",
                     "status": Account.Status.CLOSED if finished else Account.Status.ACTIVE,
                     "principal": loan.principal, "term_months": loan.term_months, "instalment": loan.instalment,
                     "repayment_status": loan.repayment, "source_ref": f"pkdd:loan:{loan.loan_id}"})
        holder_rows.append((pk, int(owners[loan.account_id]), "owner", loan.opened_on))
    dispositions = pkdd.dispositions.set_index("disp_id")
    card_ids = allocate_ids(Account, len(pkdd.cards))
    for card, pk in zip(pkdd.cards.itertuples(), card_ids, strict=True):
        disposition = dispositions.loc[card.disp_id]
        rows.append({**ACCOUNT_DEFAULTS, "id": pk, "number": f"C-{card.card_id}",
                     "product_id": products[f"CZ-CARD-{card.card_type.upper()}"].pk,
                     "branch_id": account_branch[disposition["account_id"]],
                     "linked_account_id": account_ids[disposition["account_id"]], "opened_on": card.opened_on,
                     "currency": "CZK", "source_ref": f"pkdd:card:{card.card_id}"})
        holder_rows.append((pk, int(disposition["client_id"]), "owner", card.opened_on))
    _copy_dicts(Account, rows, report)
    for disposition in pkdd.dispositions.itertuples():
        holder_rows.append((account_ids[disposition.account_id], disposition.client_id, disposition.role,
                            accounts.at[disposition.account_id, "opened_on"]))
    return account_ids, holder_rows


def _pkdd_customers(pkdd: PkddData, branches, account_branch, rms_by_branch, holder_rows, department: Department,
                    report: LoadReport) -> dict[int, int]:
    """Customers with their RM assignment, source record and baseline history; returns {client id: pk}.

    Home branch = branch of their first own account; since = their first holding.
    """
    today = timezone.localdate()
    first_since: dict[int, date] = {}
    home_account: dict[int, int] = {}
    for _, client_id, _role, since in holder_rows:
        first_since[client_id] = min(first_since.get(client_id, since), since)
    for disposition in pkdd.dispositions.sort_values(["role", "account_id"], ascending=[False, True]).itertuples():
        home_account.setdefault(disposition.client_id, disposition.account_id)
    client_ids = pkdd.clients["client_id"].tolist()
    customer_ids = dict(zip(client_ids, allocate_ids(Customer, len(client_ids)), strict=True))
    households = _pkdd_households(pkdd, customer_ids, report)
    district_names = pkdd.districts.set_index("district_id")["name"].to_dict()
    customer_rows, assignment_rows, source_rows = [], [], []
    for client in pkdd.clients.itertuples():
        branch_id = account_branch.get(home_account.get(client.client_id), branches[f"{client.district_id:02d}"].pk)
        rm_id = rms_by_branch[branch_id][client.client_id % 2]
        since = first_since.get(client.client_id)
        household_id, household_role = households.get(client.client_id, (None, ""))
        pk = customer_ids[client.client_id]
        customer_rows.append(_customer_row(
            id=pk, cif=f"CZ{client.client_id:07d}", first_name="Client", last_name=str(client.client_id),
            birth_date=client.birth_date, gender=client.gender, country="CZ",
            city=district_names[client.district_id],
            home_branch_id=branch_id, primary_rm_id=rm_id, customer_since=since,
            kyc_review_due=_kyc_review_due(since, today), household_id=household_id, household_role=household_role,
            **demo_consent(client.client_id, at=_start_of(since), source=Customer.ConsentSource.BRANCH_FORM),
        ))
        assignment_rows.append({"customer_id": pk, "rm_id": rm_id, "started_at": _start_of(since) or timezone.now(),
                                "ended_at": None, "reason": RMAssignment.Reason.ONBOARDING, "note": "",
                                "assigned_by_id": None})
        source_rows.append({"customer_id": pk, "system": SourceRecord.System.PKDD_CORE,
                            "external_id": str(client.client_id), "department_id": department.pk,
                            "payload": Jsonb({"birth_number": client.birth_number, "district_id": client.district_id}),
                            "received_at": timezone.now()})
    _copy_dicts(Customer, customer_rows, report)
    report.add("customers_historicalcustomer", customer_history_baseline(
        customer_ids=[row["id"] for row in customer_rows], reason="Loaded from PKDD'99"))
    _copy_dicts(RMAssignment, assignment_rows, report)
    _copy_dicts(SourceRecord, source_rows, report)
    return customer_ids


def _pkdd_orders_and_transactions(pkdd: PkddData, account_ids: dict[int, int], report: LoadReport) -> None:
    _copy_dicts(StandingOrder, [
        {"account_id": account_ids[o.account_id], "counterparty_bank": o.bank_to, "counterparty_account": o.account_to,
         "amount": o.amount, "currency": "CZK", "purpose": o.purpose, "source_ref": f"pkdd:order:{o.order_id}"}
        for o in pkdd.orders.itertuples()
    ], report)
    booked_at = pd.to_datetime(pkdd.transactions["booked_on"]).dt.tz_localize(_tz())
    transactions = pkdd.transactions.assign(
        booked_at=booked_at, account_pk=pkdd.transactions["account_id"].map(account_ids)
    )
    columns = ["account_id", "booked_at", "amount", "direction", "kind", "channel", "purpose", "balance_after",
               "counterparty_bank", "counterparty_account", "source_ref"]
    report.add(Transaction._meta.db_table, copy_rows(Transaction, columns, (
        (t.account_pk, t.booked_at.to_pydatetime(), t.amount, t.direction, t.kind, t.channel, t.purpose, t.balance,
         t.bank, t.counterparty, f"pkdd:trans:{t.trans_id}")
        for t in transactions.itertuples()
    )))


def _pkdd_households(pkdd: PkddData, customer_ids: dict[int, int], report: LoadReport) -> dict[int, tuple[int, str]]:
    """Clients sharing an account (owner + authorised user) form a household led by the owner."""
    shared = pkdd.dispositions.groupby("account_id").filter(lambda g: len(g) > 1)
    groups: list[tuple[int, list[tuple[int, str]]]] = []  # (owner client, [(client, role)])
    seen: set[int] = set()
    for _, group in shared.groupby("account_id"):
        members = [m for m in group.sort_values("role", ascending=False).itertuples() if m.client_id not in seen]
        if len(members) < 2:
            continue
        owner = next((m for m in members if m.role == "owner"), members[0])
        seen.update(m.client_id for m in members)
        groups.append((owner.client_id, [(m.client_id, "head" if m is owner else "other") for m in members]))
    result: dict[int, tuple[int, str]] = {}
    rows = []
    for household_id, (owner_id, members) in zip(allocate_ids(Household, len(groups)), groups, strict=True):
        rows.append({"id": household_id, "name": f"Household of Client {owner_id}", "kind": Household.Kind.FAMILY})
        result.update({client_id: (household_id, role) for client_id, role in members})
    _copy_dicts(Household, rows, report)
    return result


def _load_uci(
    uci: pd.DataFrame, branch: Branch, rms_by_branch, products, department: Department, report: LoadReport
) -> None:
    """bank-full rows → call-centre customers, their holdings, and one historic campaign's contacts."""
    campaign = Campaign.objects.create(
        code=UCI_CAMPAIGN_CODE, name="Term deposit telemarketing 2008–2010", name_zh="定期存款电话营销 2008–2010",
        product=products["PT-TERM"],
        channel=Channel.CALL_CENTRE, channels=[Channel.CALL_CENTRE],
        starts_on=min(uci["contacted_on"]), ends_on=max(uci["contacted_on"]),
        status=Campaign.Status.COMPLETED,
        data_note="UCI Bank Marketing (bank-full): a Portuguese bank's campaign; one row per client, "
                  "no client id, year inferred from the file's date order.",
    )
    rms = rms_by_branch[branch.pk]
    customer_ids = allocate_ids(Customer, len(uci))
    customers, assignments, sources, accounts, holders, contacts = [], [], [], [], [], []
    account_ids = iter(allocate_ids(Account, len(uci) + int(uci["housing"].sum() + uci["personal_loan"].sum()
                                                            + uci["accepted"].sum())))
    for row, pk in zip(uci.itertuples(), customer_ids, strict=True):
        rm_id = rms[row.row % 2]
        contacted_at = _start_of(row.contacted_on)
        customers.append(_customer_row(
            id=pk, cif=f"TM{row.row:06d}", first_name="Client", last_name=f"TM{row.row:05d}", country="PT",
            occupation=row.job, marital_status=row.marital, education=row.education, home_branch_id=branch.pk,
            primary_rm_id=rm_id, last_contact_at=contacted_at, last_contact_channel=Channel.CALL_CENTRE,
            attributes={"age": int(row.age), "credit_in_default": row.credit_default == "yes"},
            **demo_consent(int(row.row), at=contacted_at, source=Customer.ConsentSource.CALL_CENTRE),
        ))
        assignments.append({"customer_id": pk, "rm_id": rm_id, "started_at": contacted_at, "ended_at": None,
                            "reason": RMAssignment.Reason.ONBOARDING, "note": "", "assigned_by_id": None})
        sources.append({"customer_id": pk, "system": SourceRecord.System.UCI_TELEMARKETING,
                        "external_id": f"bank-full:{row.row}", "department_id": department.pk,
                        "payload": Jsonb({"line": int(row.line), "age": int(row.age), "job": row.job,
                                          "balance_eur": int(row.balance), "housing": bool(row.housing),
                                          "loan": bool(row.personal_loan)}),
                        "received_at": timezone.now()})
        held = [("PT-CURRENT", "C", {"balance": f"{row.balance}.00"})]
        held += [("PT-MORTGAGE", "H", {})] if row.housing else []
        held += [("PT-PERSONAL", "P", {})] if row.personal_loan else []
        held += [("PT-TERM", "T", {"opened_on": row.contacted_on})] if row.accepted else []
        for code, suffix, extra in held:
            account_pk = next(account_ids)
            accounts.append({**ACCOUNT_DEFAULTS, "id": account_pk, "number": f"TM{row.row:06d}-{suffix}",
                             "product_id": products[code].pk, "branch_id": branch.pk, "opened_on": None,
                             "currency": "EUR", "source_ref": f"uci:bank-full:{row.row}:{suffix}", **extra})
            holders.append({"account_id": account_pk, "customer_id": pk, "role": "owner", "since": None})
        contacts.append({
            "campaign_id": campaign.pk, "customer_id": pk, "contacted_on": row.contacted_on,
            "channel": Channel.CALL_CENTRE,
            "outcome": CampaignContact.Outcome.ACCEPTED if row.accepted else CampaignContact.Outcome.DECLINED,
            "attempts": row.campaign, "last_call_seconds": row.duration, "previous_contacts": row.previous,
            "days_since_previous": row.pdays if row.pdays >= 0 else None, "previous_outcome": row.poutcome,
            "source_ref": f"uci:bank-full:{row.row}",
        })
    for model, rows in ((Customer, customers), (RMAssignment, assignments), (SourceRecord, sources),
                        (Account, accounts), (AccountHolder, holders), (CampaignContact, contacts)):
        _copy_dicts(model, rows, report)
    report.add("customers_historicalcustomer", customer_history_baseline(
        customer_ids=customer_ids, reason="Loaded from UCI Bank Marketing"))
