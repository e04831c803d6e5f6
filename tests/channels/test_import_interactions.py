"""`import_interactions FILE --system CODE`: the API's checks and idempotency for exported files."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from channels.models import ChannelSystem, HeldInteraction, Interaction
from channels.services.systems import channel_system_register
from crm_bank.audit.models import AuditEvent
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
HEADER = "customer,channel,kind,direction,occurred_at,summary,source_id,outcome,staff\n"


@pytest.fixture
def system() -> ChannelSystem:
    return channel_system_register(code="branch-files")[0]


@pytest.fixture
def customers(branch_a):
    return [CustomerFactory(cif=f"C{n:09d}", home_branch=branch_a) for n in range(1, 3)]


def _file(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def _run(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_interactions", str(path), "--system", "branch-files", *args, stdout=out)
    return out.getvalue()


GOOD = (
    "C000000001,branch,visit,inbound,2026-11-02T09:00:00+01:00,Opened a savings account,f-1,Done,rm_a\n"
    "C000000002,branch,enquiry,inbound,2026-11-02T10:00:00+01:00,\"Asked about fees, cards\",f-2,,\n"
)


def test_import_stores_each_line_and_a_second_run_stores_nothing(tmp_path, system, customers, rm_a):
    path = _file(tmp_path, GOOD)
    output = _run(path)
    assert "2 created" in output
    rows = {row.source_id: row for row in Interaction.objects.all()}
    assert set(rows) == {"f-1", "f-2"}
    assert rows["f-1"].staff_id == rm_a.pk and rows["f-1"].source_system_id == system.pk
    assert rows["f-2"].summary == "Asked about fees, cards" and rows["f-2"].outcome == ""
    again = _run(path)
    assert "0 created" in again and "2 duplicate" in again
    assert Interaction.objects.count() == 2
    audits = AuditEvent.objects.filter(object_type="interaction_batch", action=AuditEvent.Action.IMPORT)
    assert audits.count() == 2 and audits.first().detail["file"] == "contacts.csv"


def test_import_shares_idempotency_with_the_api(tmp_path, system, customers, rm_a):
    from django.test import Client

    from channels.services.systems import channel_token_create
    from tests.channels.test_api import item

    client = Client(HTTP_AUTHORIZATION=f"Token {channel_token_create(system=system)[1]}")
    body = item(customer="C000000002", channel="branch", occurred_at="2026-11-02T09:00:00Z", source_id="f-2",
                summary="Asked about fees, cards")
    assert client.post("/api/v1/interactions/", body, content_type="application/json").status_code == 201
    output = _run(_file(tmp_path, "C000000002,branch,enquiry,inbound,2026-11-02T10:00:00+01:00,"
                                  "\"Asked about fees, cards\",f-2,,\n"))
    assert "1 duplicate" in output
    assert Interaction.objects.count() == 1


def test_bad_lines_are_reported_and_the_good_ones_stored(tmp_path, system, customers, rm_a):
    body = (
        GOOD
        + "C000000001,pigeon,visit,inbound,2026-11-02T09:00:00+01:00,Coo,f-3,,\n"          # line 4
        + "C000000001,branch,visit,inbound,2026-11-02T09:00:00,Naive time,f-4,,\n"         # line 5
        + "C000000001,branch,visit,inbound,2026-11-02T09:00:00+01:00,,f-5,,nobody\n"       # line 6
        + "C000000001,branch,visit,inbound,2026-11-02T09:00:00+01:00,Other body,f-1,,\n"   # line 7
        + "X-UNKNOWN,branch,visit,inbound,2026-11-02T09:00:00+01:00,Walk-in,f-6,,\n"       # line 8
        + "C000000001,branch,visit,inbound,2026-11-02T09:00:00+01:00,Extra,f-7,,,surplus\n"  # line 9
    )
    errors_path = tmp_path / "errors.csv"
    out = StringIO()
    with pytest.raises(CommandError, match="5 line"):
        call_command("import_interactions", str(_file(tmp_path, body)), "--system", "branch-files",
                     "--errors", str(errors_path), stdout=out)
    output = out.getvalue()
    assert "line 4, column channel (source_id f-3): Unknown channel “pigeon”." in output
    assert "line 5, column occurred_at" in output
    assert "line 6, column summary (source_id f-5): This field is required." in output
    assert "line 6, column staff" in output
    assert "line 7, column source_id (source_id f-1)" in output
    assert "line 9" in output and "More cells than columns." in output
    assert set(Interaction.objects.values_list("source_id", flat=True)) == {"f-1", "f-2"}
    assert HeldInteraction.objects.get().source_id == "f-6"
    with errors_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["line"], row["column"]) for row in rows] == [
        ("4", "channel"), ("5", "occurred_at"), ("6", "staff"), ("6", "summary"), ("7", "source_id"), ("9", "")]


def test_the_rejected_lines_file_opens_safely_in_a_spreadsheet(tmp_path, system, customers):
    """The file's source ids come from the sender: one that starts like a formula is neutralised."""
    body = 'C000000001,pigeon,visit,inbound,2026-11-02T09:00:00+01:00,Coo,"=HYPERLINK(""http://x"")",,\n'
    errors_path = tmp_path / "errors.csv"
    with pytest.raises(CommandError):
        call_command("import_interactions", str(_file(tmp_path, body)), "--system", "branch-files",
                     "--errors", str(errors_path), stdout=StringIO())
    with errors_path.open(encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["line"], row["source_id"]) == ("2", "'=HYPERLINK(\"http://x\")")


def test_line_numbers_count_quoted_line_breaks(tmp_path, system, customers):
    body = ("C000000001,branch,visit,inbound,2026-11-02T09:00:00+01:00,\"Two\nlines\",g-1,,\n"
            "C000000001,branch,chat,inbound,2026-11-02T09:00:00+01:00,Bad kind,g-2,,\n")
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("import_interactions", str(_file(tmp_path, body)), "--system", "branch-files", stdout=out)
    assert "line 4, column kind" in out.getvalue()


def test_a_nul_character_rejects_its_line_only(tmp_path, system, customers, rm_a):
    body = (GOOD
            + "C000000001,branch,visit,inbound,2026-11-02T11:00:00+01:00,Card\x00 stuck,f-3,,\n"  # line 4
            + "C000000002,branch,visit,inbound,2026-11-02T12:00:00+01:00,Walk-in,f-4,,\n")
    out = StringIO()
    with pytest.raises(CommandError, match="1 line"):
        call_command("import_interactions", str(_file(tmp_path, body)), "--system", "branch-files", stdout=out)
    assert "line 4, column summary (source_id f-3): Must not contain NUL characters." in out.getvalue()
    assert set(Interaction.objects.values_list("source_id", flat=True)) == {"f-1", "f-2", "f-4"}


@pytest.mark.parametrize(("header", "message"), [
    ("customer,channel,kind,direction,occurred_at,summary\n", "missing column(s): source_id"),
    (HEADER.replace("staff", "colour"), "unknown column(s): colour"),
])
def test_a_file_with_bad_columns_is_refused_whole(tmp_path, system, customers, header, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _run(_file(tmp_path, GOOD, header=header))
    assert not Interaction.objects.exists()


def test_unknown_or_inactive_system_and_missing_file_are_refused(tmp_path, system):
    with pytest.raises(CommandError, match="No channel system"):
        call_command("import_interactions", str(_file(tmp_path, GOOD)), "--system", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match="Cannot read"):
        _run(tmp_path / "missing.csv")
    ChannelSystem.objects.filter(pk=system.pk).update(is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        _run(_file(tmp_path, GOOD))
