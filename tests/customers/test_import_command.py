"""manage.py import_customers."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, ImportBatch, SourceSystem
from tests.customers.import_helpers import JIRI, LI_WEI, write_file

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_customers", *map(str, args), stdout=out)
    return out.getvalue()


def test_command_registers_a_new_source_and_imports(tmp_path, branch_a):
    output = _run(write_file(tmp_path / "a.csv", [LI_WEI, JIRI]), "--source", "card_centre")
    assert "Registered the new source system card_centre with the default trust (50" in output
    assert "created            2" in output
    assert SourceSystem.objects.get(code="card_centre").trust_contact == SourceSystem.DEFAULT_TRUST
    assert Customer.objects.count() == 2
    assert "Registered" not in _run(tmp_path / "a.csv", "--source", "card_centre")


def test_command_dry_run_changes_nothing_and_writes_errors(tmp_path, branch_a):
    rows = [LI_WEI, {"source_key": "=2+3", "family_name": "X", "email": "-x", "branch_code": "A01"}]
    errors = tmp_path / "errors.csv"
    with pytest.raises(CommandError, match="1 lines were rejected") as raised:
        _run(write_file(tmp_path / "a.csv", rows), "--source", "web", "--dry-run", "--errors", errors)
    assert raised.value.returncode == 1
    assert not Customer.objects.exists()
    assert errors.read_text().splitlines() == ["line,source_key,column,value,reason",
                                               "3,'=2+3,email,'-x,Not a valid e-mail address."]


def test_command_error_file_after_commit(tmp_path, branch_a):
    errors = tmp_path / "errors.csv"
    with pytest.raises(CommandError) as raised:
        _run(write_file(tmp_path / "a.csv", [LI_WEI, {**JIRI, "phone": "+1"}]), "--source", "web", "--errors", errors)
    assert raised.value.returncode == 1
    assert Customer.objects.count() == 1
    assert errors.read_text().splitlines()[1].startswith("3,k2,phone,'+1,\"Not a valid phone number")


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The file is empty."),
    (b"source_key;kind\n", "header but no data lines"),
    (b"name,kind\nA,individual\n", "no column source_key"),
])
def test_command_refused_file_exits_2(tmp_path, branch_a, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message) as raised:
        _run(path, "--source", "web")
    assert raised.value.returncode == 2
    # Refused at the upload (empty) or at the commit, for good either way: never left "importing".
    assert ImportBatch.objects.get().status == ImportBatch.Status.REFUSED
