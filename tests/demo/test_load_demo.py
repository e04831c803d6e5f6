"""load_demo: the real data sets on a slice, idempotency, bad input, and the generated fallback."""

from __future__ import annotations

import csv
import gzip
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign, CampaignContact
from customers.models import Account, AccountHolder, Customer, SourceRecord, Transaction
from demo.files import DemoDataError
from demo.loader import UCI_CAMPAIGN_CODE, pkdd_closing_balances
from demo.pkdd import pkdd_read
from demo.uci import uci_read

DATASETS = Path(settings.CRM_DATASETS)
PKDD = DATASETS / "berka_pkdd99"
UCI = DATASETS / "bank_marketing_uci"
needs_data = pytest.mark.skipif(
    not (PKDD / "client.asc").exists() or not (UCI / "bank-full.csv.gz").exists(),
    reason=f"public data sets not found at {DATASETS} (see README: where to get them)",
)


@pytest.fixture
def dataset_copy(tmp_path: Path) -> Path:
    """A writable copy of the data sets, for corrupting one file."""
    for name in ("berka_pkdd99", "bank_marketing_uci"):
        shutil.copytree(DATASETS / name, tmp_path / name)
    for path in tmp_path.rglob("*"):
        path.chmod(0o644 if path.is_file() else 0o755)
    return tmp_path


@needs_data
def test_pkdd_read_decodes_birth_numbers_and_keeps_every_transaction():
    data = pkdd_read(PKDD)
    clients = data.clients.set_index("client_id")
    assert clients.at[1, "birth_date"] == date(1970, 12, 13) and clients.at[1, "gender"] == "F"
    assert clients.at[2, "birth_date"] == date(1945, 2, 4) and clients.at[2, "gender"] == "M"
    assert (clients["gender"] == "F").sum() == 2645
    assert len(data.transactions) == 46_997 and data.transactions["booked_on"].max() == date(1994, 3, 30)
    assert set(data.loans["repayment"]) == {"paid", "defaulted", "current", "arrears"}


@needs_data
def test_uci_read_infers_years_from_the_date_order():
    frame = uci_read(UCI)
    assert len(frame) == 45_211 and frame["accepted"].sum() == 5_289
    assert frame["contacted_on"].iloc[0] == date(2008, 5, 5)
    assert frame["contacted_on"].iloc[-1] == date(2010, 11, 17)
    assert frame["contacted_on"].is_monotonic_increasing


@needs_data
@pytest.mark.django_db
def test_load_demo_slice_loads_customers_holdings_and_campaign_then_changes_nothing(capsys):
    call_command("load_demo", "--data", str(DATASETS), "--sample", "40")
    pkdd_customers = Customer.objects.filter(source_records__system=SourceRecord.System.PKDD_CORE)
    assert pkdd_customers.count() >= 40
    owner = Customer.objects.get(cif="CZ0000001")
    assert owner.birth_date == date(1970, 12, 13) and owner.primary_rm is not None
    assert owner.primary_rm.staff_profile.branch == owner.home_branch
    assert Account.objects.get(number="1").holdings.get(role=AccountHolder.Role.OWNER).customer == owner
    account = Account.objects.get(number="2")  # active in the window the transaction file covers
    assert account.transactions.count() > 0
    last = account.transactions.order_by("-booked_at", "-source_ref").first()
    assert account.balance_as_of == timezone.localtime(last.booked_at).date()
    assert Account.objects.get(number="1").balance is None  # no transactions in the file: not guessed
    assert Transaction.objects.filter(booked_at__date__gt=date(1994, 3, 31)).count() == 0
    campaign = Campaign.objects.get(code=UCI_CAMPAIGN_CODE)
    assert campaign.contacts.count() == 40
    assert CampaignContact.objects.filter(outcome=CampaignContact.Outcome.ACCEPTED).count() == sum(
        uci_read(UCI, sample_rows=40)["accepted"])
    counts = (Customer.objects.count(), Account.objects.count(), Transaction.objects.count())

    call_command("load_demo", "--data", str(DATASETS), "--sample", "40")
    assert (Customer.objects.count(), Account.objects.count(), Transaction.objects.count()) == counts
    assert "already loaded" in capsys.readouterr().out


def test_demo_consent_is_given_to_a_stable_share_and_dated_when_the_customer_was_reached():
    from demo.loader import DEMO_CONSENT_SHARE, demo_consent

    reached = timezone.now()
    given = [key for key in range(10_000) if demo_consent(key, at=reached, source="call_centre")]
    assert abs(len(given) / 10_000 - DEMO_CONSENT_SHARE) < 0.02
    assert given == [key for key in range(10_000) if demo_consent(key, at=None, source="x")]  # the same every load
    assert demo_consent(given[0], at=reached, source="call_centre") == {
        "marketing_consent": True, "marketing_consent_at": reached, "marketing_consent_source": "call_centre"}
    assert sum(1 for key in given if key + 1 in given) < 0.75 * len(given)  # neighbours do not consent alike


@needs_data
@pytest.mark.django_db
def test_loaded_customers_with_consent_can_be_targeted_and_the_data_notes_say_it_was_generated(client, rm_a):
    call_command("load_demo", "--data", str(DATASETS), "--sample", "200")
    consenting = Customer.objects.filter(marketing_consent=True)
    assert 0.45 < consenting.count() / Customer.objects.count() < 0.75
    assert set(consenting.values_list("marketing_consent_source", flat=True)) == {"branch_form", "call_centre"}
    assert not consenting.filter(marketing_consent_at__isnull=True).exists()
    client.force_login(rm_a)
    page = client.get("/data-notes/").content.decode()
    assert 'id="generated-notes"' in page and f"{consenting.count()} customers (about 60%" in page


@needs_data
@pytest.mark.django_db
def test_load_demo_malformed_file_names_file_and_line_and_writes_nothing(dataset_copy: Path):
    path = dataset_copy / "berka_pkdd99" / "loan.asc"
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace(";12;", ";twelve;", 1) if ";12;" in lines[4] else lines[4].replace(";", ";x", 4)
    path.write_text("".join(lines))
    with pytest.raises(CommandError, match=r"loan\.asc, line 5"):
        call_command("load_demo", "--data", str(dataset_copy))
    assert not Customer.objects.exists() and not Campaign.objects.exists()


@needs_data
@pytest.mark.django_db
def test_load_demo_malformed_transactions_stop_the_load(dataset_copy: Path):
    path = dataset_copy / "berka_pkdd99" / "trans_until_1994-03-30.asc.gz"
    with gzip.open(path, "rt") as handle:
        lines = handle.readlines()
    lines[100] = lines[100].replace('"PRIJEM"', '"PRIJEMX"').replace('"VYDAJ"', '"VYDAJX"').replace(
        '"VYBER"', '"VYBERX"')
    with gzip.open(path, "wt") as handle:
        handle.writelines(lines)
    with pytest.raises(DemoDataError, match=r"trans_until_1994-03-30\.asc\.gz, line 101"):
        pkdd_read(dataset_copy / "berka_pkdd99")


@pytest.mark.django_db
def test_load_demo_without_data_sets_at_the_default_location_generates_a_bank(tmp_path: Path, capsys, settings):
    settings.CRM_DATASETS = str(tmp_path / "absent")
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "not at" in out and "synthetic" in out.lower()
    assert Customer.objects.count() > 0
    assert SourceRecord.objects.filter(system=SourceRecord.System.SYNTHETIC).exists()


@pytest.mark.django_db
def test_load_demo_explicit_missing_folder_is_an_error_and_writes_nothing(tmp_path: Path):
    with pytest.raises(CommandError, match=r"datasets-typo: no such folder"):
        call_command("load_demo", "--data", str(tmp_path / "datasets-typo"))
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_load_demo_explicit_folder_without_a_data_set_is_an_error(tmp_path: Path):
    (tmp_path / "berka_pkdd99").mkdir()
    with pytest.raises(CommandError, match="holds neither data set"):
        call_command("load_demo", "--data", str(tmp_path))
    assert not Customer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("sample", ["0", "-5", "many"])
def test_load_demo_refuses_a_sample_that_is_not_positive(sample: str):
    with pytest.raises(CommandError, match="sample"):
        call_command("load_demo", "--sample", sample)
    assert not Customer.objects.exists()


UCI_HEADER = ('"age";"job";"marital";"education";"default";"balance";"housing";"loan";"contact";"day";"month";'
              '"duration";"campaign";"pdays";"previous";"poutcome";"y"\n')
UCI_ROW = '58;"management";"married";"tertiary";"no";{balance};"yes";"no";"unknown";5;"may";261;1;-1;0;"unknown";"no"\n'


def _uci_folder(root: Path, text: str) -> Path:
    folder = root / "bank_marketing_uci"
    folder.mkdir(parents=True)
    with gzip.open(folder / "bank-full.csv.gz", "wt") as handle:
        handle.write(text)
    return root


@pytest.mark.django_db
@pytest.mark.parametrize(("text", "message"), [
    ("", r"bank-full\.csv\.gz, line 1: the file is empty"),
    (UCI_HEADER, r"bank-full\.csv\.gz, line 2: no rows after the header"),
    (UCI_HEADER + UCI_ROW.format(balance=2143) + UCI_ROW.format(balance="99999999999999999999"),
     r"bank-full\.csv\.gz, line 3: column 'balance' has '99999999999999999999', expected a whole number from"),
])
def test_load_demo_empty_file_or_out_of_range_number_names_file_and_line(tmp_path: Path, text: str, message: str):
    folder = _uci_folder(tmp_path, text)
    with pytest.raises(CommandError, match=message):
        call_command("load_demo", "--data", str(folder))
    assert not Customer.objects.exists()


def test_as_int_keeps_bigint_bounds_exact_and_refuses_beyond_them():
    import pandas as pd

    from demo.files import as_int

    frame = pd.DataFrame({"id": ["9223372036854775807", "-9223372036854775808", " 12 ", "7.0"], "line": [2, 3, 4, 5]})
    assert as_int(Path("x.asc"), frame, "id").tolist() == [2**63 - 1, -(2**63), 12, 7]
    for value in ("9223372036854775808", "-9223372036854775809", "1e30", "1.5"):
        bad = pd.DataFrame({"id": ["1", value], "line": [2, 3]})
        with pytest.raises(DemoDataError, match=r"x\.asc, line 3: column 'id'"):
            as_int(Path("x.asc"), bad, "id")


@needs_data
@pytest.mark.django_db
def test_load_demo_client_id_too_large_for_a_bigint_stops_with_file_and_line(dataset_copy: Path):
    _rewrite_line(dataset_copy / "berka_pkdd99" / "client.asc", 3, lambda text: "99999999999999999999" + text[
        text.index(";"):])
    with pytest.raises(CommandError, match=r"client\.asc, line 3: column 'client_id'"):
        call_command("load_demo", "--data", str(dataset_copy))
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_load_demo_refuses_without_demo_password(settings):
    settings.DEMO_PASSWORD = None
    with pytest.raises(CommandError, match="DEMO_PASSWORD"):
        call_command("load_demo")


def _rewrite_line(path: Path, number: int, change) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = change(lines[number - 1])
    path.write_text("".join(lines))


@needs_data
@pytest.mark.parametrize(("file", "line", "change", "message"), [
    ("disp.asc", 3, lambda text: text.replace("2;2;2;", "2;999999;2;", 1),
     r"disp\.asc, line 3: client_id 999999 is not"),
    ("client.asc", 4, lambda text: "2" + text[text.index(";"):], r"client\.asc, line 4: client_id 2 appears twice"),
    ("loan.asc", 2, lambda text: text.replace(";930705;", ";930705x;"), r"loan\.asc, line 2: column 'date'"),
    ("account.asc", 3, lambda text: "\n" + text, r"account\.asc, line 3"),
])
def test_pkdd_read_checks_references_duplicates_and_formats(dataset_copy: Path, file, line, change, message):
    _rewrite_line(dataset_copy / "berka_pkdd99" / file, line, change)
    with pytest.raises(DemoDataError, match=message):
        pkdd_read(dataset_copy / "berka_pkdd99")


@pytest.mark.django_db
def test_load_demo_with_an_empty_default_folder_generates_a_bank(tmp_path: Path, capsys, settings):
    (tmp_path / "berka_pkdd99").mkdir()
    settings.CRM_DATASETS = str(tmp_path)
    call_command("load_demo", "--sample", "50")
    assert "synthetic" in capsys.readouterr().out.lower() and Customer.objects.count() == 50


def test_kyc_review_due_survives_29_february():
    from demo.loader import _kyc_review_due

    assert _kyc_review_due(date(1996, 2, 29), date(2026, 11, 29)) == date(2031, 2, 28)
    assert _kyc_review_due(date(1993, 5, 1), date(2026, 11, 29)) == date(2028, 5, 1)


@needs_data
@pytest.mark.django_db
def test_loaded_customers_show_their_first_edit_in_field_changes(rm_a):
    from customers.selectors import customer_field_changes
    from customers.services import customer_update

    call_command("load_demo", "--data", str(DATASETS), "--sample", "5")
    customer = Customer.objects.get(cif="CZ0000001")
    assert customer.history.count() == 1
    customer_update(customer=customer, actor=rm_a, city="Brno")
    changes = customer_field_changes(customer_id=customer.pk)
    assert [(c.field, c.new) for c in changes] == [("city", "Brno")]


def _last_running_balances(account_ids: set[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """Straight from the file: {account: (its closing balance on its last day, sum of amounts)}. The
    day closes on the balance no other row of the day started from (balance less signed amount)."""
    days: dict[int, tuple[str, list[tuple[int, Decimal, Decimal]]]] = {}
    sums: dict[int, Decimal] = {}
    with gzip.open(PKDD / "trans_until_1994-03-30.asc.gz", "rt") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            account = int(row["account_id"])
            if account not in account_ids:
                continue
            signed = (1 if row["type"] == "PRIJEM" else -1) * Decimal(row["amount"])
            entry = (int(row["trans_id"]), Decimal(row["balance"]), signed)
            if account not in days or row["date"] > days[account][0]:
                days[account] = (row["date"], [entry])
            elif row["date"] == days[account][0]:
                days[account][1].append(entry)
            sums[account] = sums.get(account, Decimal(0)) + signed
    closing = {}
    for account, (_, rows) in days.items():
        openings = {balance - signed for _, balance, signed in rows}
        ends = [balance for _, balance, _ in rows if balance not in openings]
        closing[account] = ends[0] if len(ends) == 1 else max(rows)[1]
    return {account: (closing[account], sums[account]) for account in closing}


def test_pkdd_closing_balance_follows_the_days_balances_not_the_transaction_ids():
    # Account 151 on 9 March 1994 (the file's ids): 2,668 went out before 411, though 411 has the lower id.
    frame = pd.DataFrame({
        "trans_id": [45000, 45057, 45129, 7, 8], "account_id": [151, 151, 151, 2, 2],
        "booked_on": [date(1994, 3, 8), date(1994, 3, 9), date(1994, 3, 9), date(1994, 1, 5), date(1994, 1, 5)],
        "direction": ["credit", "debit", "debit", "credit", "credit"],
        "amount": ["28319.70", "411.00", "2668.00", "100.00", "50.00"],
        "balance": ["28319.70", "25240.70", "25651.70", "300.00", "999.00"],  # account 2: the rows do not chain
    })

    closing = pkdd_closing_balances(frame)

    assert closing.loc[151].tolist() == ["25240.70", date(1994, 3, 9)]
    assert closing.loc[2, "balance"] == "999.00"  # the rows cannot tell: the last by id


@needs_data
@pytest.mark.real_data
@pytest.mark.django_db
def test_load_demo_balance_is_the_files_last_running_balance_not_a_sum():
    call_command("load_demo", "--data", str(DATASETS), "--sample", "60")
    loaded = dict(Account.objects.filter(source_ref__startswith="pkdd:account:").exclude(balance=None)
                  .values_list("number", "balance"))
    expected = _last_running_balances({int(number) for number in loaded})
    assert {int(number): balance for number, balance in loaded.items()} == {
        account: balance for account, (balance, _) in expected.items()}
    # The file's amounts do not always add up to the bank's balance (rounding in its interest rows):
    # account 2 is one of them, so a summed balance would fail above.
    balance, summed = expected[2]
    assert balance != summed
