"""The data-integration flow in Chromium: a supervisor uploads a card-centre file, reads the dry
run, imports it (a run on a real Celery worker, with its progress bar), opens the review queue,
compares the probable duplicate the import found with the customer it resembles, merges them, sees
both sources on the survivor's 360° page, and undoes the merge.

Uses Debian's Chromium (Playwright cannot download its own browser here).
"""

from __future__ import annotations

import datetime as dt

import pytest

from customers.models import Customer, ImportBatch, MatchCandidate
from tests.browser.chromium import BROWSER_MARKS, SCREENSHOTS, log_in
from tests.customers.factories import CustomerFactory
from tests.customers.import_helpers import csv_text

pytestmark = [*BROWSER_MARKS, pytest.mark.worker]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_upload_preview_commit_review_merge_and_undo(browser, live_server, worker, supervisor_a, branch_a, rm_a,
                                                     tmp_path):
    from customers.imports.services import source_system_ensure

    SCREENSHOTS.mkdir(exist_ok=True)
    known = CustomerFactory(
        home_branch=branch_a, primary_rm=rm_a, first_name="Jaroslava", last_name="Kratochvilova",
        national_id_type="", national_id="", birth_date=dt.date(1968, 11, 4), phone="+420602555111",
        email="j.kratochvilova@example.cz", city="Brno", country="CZ", gender="F",
    )
    source_system_ensure(code="card_centre", actor=None)
    upload = tmp_path / "cards.csv"
    upload.write_text(csv_text([
        # Given and family name swapped, a new phone: the card centre's copy of the same woman.
        {"source_key": "c-1", "given_name": "Kratochvilova", "family_name": "Jaroslava", "birth_date": "1968-11-04",
         "phone": "+420 777 000 111", "email": "j.kratochvilova@example.cz", "branch_code": "A01", "country": "CZ"},
        {"source_key": "c-2", "given_name": "Ondrej", "family_name": "Maly", "birth_date": "1990-01-02",
         "branch_code": "A01", "country": "CZ"},
        {"source_key": "c-3", "family_name": "Bad", "email": "not-an-email", "branch_code": "A01"},
    ]), encoding="utf-8")

    page = log_in(browser, live_server, supervisor_a.username)
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("nav a:text('Imports')")
    page.select_option("#id_source", label="card_centre card_centre")
    page.set_input_files("#id_file", str(upload))
    page.click("#import-upload-form button[type=submit]")
    page.wait_for_selector("#import-outcomes")  # the dry run: nothing written yet
    assert page.inner_text("[data-outcome='review']") == "1"
    assert page.inner_text("[data-outcome='created']") == "1"
    assert page.inner_text("[data-outcome='rejected']") == "1"
    assert "Not a valid e-mail address." in page.inner_text("#import-errors")
    assert Customer.objects.count() == 1

    page.click("#import-commit-form button[type=submit]")
    page.wait_for_selector("#import-result-link", timeout=30_000)  # the progress bar, until the worker is done
    page.click("#import-result-link")
    page.wait_for_selector("#import-error-file")
    assert ImportBatch.objects.get().status == ImportBatch.Status.COMMITTED
    page.screenshot(path=str(SCREENSHOTS / "import_result.png"), full_page=True)

    page.click("nav a:text('Review queue')")
    page.wait_for_selector("#queue-table")
    page.click("#queue-table a:text('Compare')")
    page.wait_for_selector("#pair-origin")
    assert "line 2" in page.inner_text("#pair-origin")
    assert "swapped" in page.inner_text("[data-comparison='name']")
    page.screenshot(path=str(SCREENSHOTS / "review_pair_from_import.png"), full_page=True)
    pair = MatchCandidate.objects.get()
    survivor_side = "left" if pair.left_id == known.pk else "right"
    page.check(f"#survivor-{survivor_side}")
    page.click("#merge-button")
    page.wait_for_selector("#customer-header")
    assert page.url.endswith(f"/customers/{known.pk}/")
    page.wait_for_selector("#source-records [data-source]")  # the data-quality panel, loaded by htmx
    assert "card_centre" in page.inner_text("#source-records") and "c-1" in page.inner_text("#source-records")
    assert Customer.objects.filter(merged_into=known).count() == 1

    page.goto(f"{live_server.url}/customers/review/{pair.pk}/")
    page.click("#unmerge-button")
    page.wait_for_selector("#merge-button")
    assert not Customer.objects.filter(merged_into=known).exists()
    page.close()
