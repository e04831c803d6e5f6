"""The backup and its restore drill (ops/backup.sh, the compose `backup` service): a dump of the
test database restores into a scratch database with every table's row count equal to the counts
taken in the dump's snapshot, and a drill whose counts differ fails."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from customers.models import Customer
from tests.customers.factories import CustomerFactory, account_for, transactions_for
from tests.drills.conftest import database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed"),
]
SCRIPT = Path(settings.BASE_DIR) / "ops" / "backup.sh"


def _client_bin_dir() -> str:
    """The directory of a pg_dump, pg_restore and psql of the server's major version (pg_dump refuses
    a newer server): Debian's for the machine's PostgreSQL, pgserver's own for the embedded one."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin"), Path("/usr/bin")]
    try:
        import pgserver

        candidates.insert(0, Path(pgserver.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    for directory in candidates:
        pg_dump = directory / "pg_dump"
        if pg_dump.exists():
            version = subprocess.run([str(pg_dump), "--version"], capture_output=True, text=True).stdout
            if re.search(rf"\(PostgreSQL\) {major}\.", version):  # "pg_dump (PostgreSQL) 16.2"
                return str(directory)
    pytest.skip(f"no pg_dump of PostgreSQL {major} on this machine")


def _backup(*args: str, backup_dir: Path) -> list[dict]:
    environment = {"PATH": f"{_client_bin_dir()}:/usr/bin:/bin", "DATABASE_URL": database_url(),
                   "DRILL_DATABASE_URL": database_url("postgres"), "BACKUP_DIR": str(backup_dir)}
    result = subprocess.run(["bash", str(SCRIPT), *args], env=environment, capture_output=True, text=True,
                            timeout=300)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [{"returncode": result.returncode, "stderr": result.stderr}, *lines]


def test_dump_restores_with_every_row_count_equal(tmp_path, branch_a):
    for customer in CustomerFactory.create_batch(30, home_branch=branch_a):
        transactions_for(account_for(customer), 5)
    status, *logged = _backup("once", backup_dir=tmp_path)
    assert status["returncode"] == 0 and len(logged) == 2, status["stderr"]
    dumped, drilled = logged
    assert drilled["equal"] is True and drilled["tables"] == dumped["tables"] > 80
    counts = dict(line.split("|") for line in Path(dumped["dump"] + ".counts").read_text().splitlines())
    assert int(counts[Customer._meta.db_table]) == Customer.objects.count() >= 30
    assert drilled["rows"] >= 30 + 30 * 5
    # The scratch database is gone afterwards.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'branch_crm_restore_drill_%%'")
        assert cursor.fetchone()[0] == 0


def test_drill_fails_when_a_count_differs(tmp_path, branch_a):
    CustomerFactory.create_batch(3, home_branch=branch_a)
    status, dumped = _backup("dump", backup_dir=tmp_path)
    assert status["returncode"] == 0, status["stderr"]
    manifest = Path(dumped["dump"] + ".counts")
    table = Customer._meta.db_table
    manifest.write_text("".join(f"{name}|{int(rows) + 1}\n" if name == table else f"{name}|{rows}\n"
                                for name, rows in (line.split("|") for line in manifest.read_text().splitlines())))
    status, drilled = _backup("drill", dumped["dump"], backup_dir=tmp_path)
    assert status["returncode"] == 1 and drilled["equal"] is False and drilled["tables_differ"] == table


def test_drill_refuses_a_missing_dump(tmp_path):
    status, *_ = _backup("drill", str(tmp_path / "nothing.dump"), backup_dir=tmp_path)
    assert status["returncode"] == 2 and "missing" in status["stderr"]
