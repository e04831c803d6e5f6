"""The probabilistic step of an import: a line that no source key or national ID resolves, but
that looks like an existing customer (names swapped, a typo, a new phone), goes to review with its
candidate; a sure match merges when automatic merging is on; a stranger is created."""

from __future__ import annotations

import datetime as dt

import pytest

from customers.imports.services import import_batch_preview, import_batch_upload, source_system_ensure
from customers.models import Customer, ImportBatch, ImportRow, MatchCandidate, SourceRecord
from tests.customers.factories import CustomerFactory
from tests.customers.import_helpers import batch_import, write_file

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def known(branch_a, rm_a):
    """A customer the core system loaded: no national ID is shared with the card centre's file."""
    return CustomerFactory(
        home_branch=branch_a, primary_rm=rm_a, first_name="Jaroslava", last_name="Kratochvilova",
        national_id_type="", national_id="", birth_date=dt.date(1968, 11, 4), phone="+420602555111",
        email="j.kratochvilova@example.cz", address_line="Karlova 7", city="Brno", postal_code="60200",
        country="CZ", gender="F",
    )


def _line(**fields) -> dict:
    return {"branch_code": "A01", "country": "CZ", **fields}


# The known customer as the card centre holds her: the same in every field but the diacritics.
_SURE_MATCH = _line(source_key="c-1", given_name="Jaroslava", family_name="Kratochvílová", birth_date="1968-11-04",
                    phone="+420602555111", email="j.kratochvilova@example.cz", address_line1="Karlova 7",
                    city="Brno", postcode="602 00", gender="F")


def test_a_probable_duplicate_is_created_and_sent_to_review_with_its_candidate(tmp_path, known):
    path = write_file(tmp_path / "cards.csv", [
        # The same woman: given and family name swapped, a new phone, the same birth date and e-mail.
        _line(source_key="c-1", given_name="Kratochvilova", family_name="Jaroslava", birth_date="1968-11-04",
              phone="+420 777 000 111", email="j.kratochvilova@example.cz", city="Brno"),
        # Somebody else entirely.
        _line(source_key="c-2", given_name="Ondrej", family_name="Maly", birth_date="1990-01-02",
              phone="+420 603 999 888"),
    ])
    batch = batch_import(path, source="card_centre")
    assert batch.status == ImportBatch.Status.COMMITTED
    assert batch.counts["review"] == 1 and batch.counts["created"] == 1
    assert sum(batch.counts.values()) == batch.line_count == 2
    row = ImportRow.objects.get(batch=batch, line=2)
    assert row.outcome == "review" and row.customer_id != known.pk  # a record of its own meanwhile
    pair = MatchCandidate.objects.get(import_row=row)
    assert {pair.left_id, pair.right_id} == {known.pk, row.customer_id}
    assert pair.status == "pending" and pair.decision in ("review", "auto_merge")
    assert 0.5 <= pair.match_probability <= 1 and {c["field"] for c in pair.comparisons} >= {"name", "birth_date"}
    name = next(c for c in pair.comparisons if c["field"] == "name")
    assert "swapped" in name["label"]
    assert SourceRecord.objects.filter(system_id="card_centre", external_id="c-1", customer_id=row.customer_id).exists()
    # The known customer is untouched until a supervisor decides.
    known.refresh_from_db()
    assert known.phone == "+420602555111" and known.merged_into_id is None


def test_reimporting_the_same_file_changes_nothing_and_queues_nothing_new(tmp_path, known):
    rows = [_line(source_key="c-1", given_name="Kratochvilova", family_name="Jaroslava", birth_date="1968-11-04",
                  phone="+420 777 000 111", email="j.kratochvilova@example.cz")]
    batch_import(write_file(tmp_path / "a.csv", rows), source="card_centre")
    customers, pairs = Customer.objects.count(), MatchCandidate.objects.count()
    again = batch_import(write_file(tmp_path / "b.csv", rows), source="card_centre")
    assert again.counts["unchanged"] == 1 and sum(again.counts.values()) == 1
    assert (Customer.objects.count(), MatchCandidate.objects.count()) == (customers, pairs)


def test_a_sure_match_merges_into_the_customer_when_automatic_merging_is_on(tmp_path, known, settings):
    settings.CRM_AUTO_MERGE = True
    path = write_file(tmp_path / "cards.csv", [_SURE_MATCH])
    customers = Customer.objects.count()
    batch = batch_import(path, source="card_centre")
    assert batch.counts["merged"] == 1 and Customer.objects.count() == customers
    assert ImportRow.objects.get(batch=batch).customer_id == known.pk
    assert SourceRecord.objects.get(system_id="card_centre", external_id="c-1").customer_id == known.pk
    assert not MatchCandidate.objects.exists()


def test_a_sure_match_waits_for_a_supervisor_when_automatic_merging_is_off(tmp_path, known, settings):
    settings.CRM_AUTO_MERGE = False
    path = write_file(tmp_path / "cards.csv", [_SURE_MATCH])
    batch = batch_import(path, source="card_centre")
    assert batch.counts["review"] == 1
    assert MatchCandidate.objects.get().decision == "auto_merge"


def test_preview_counts_the_review_lines_and_writes_nothing(tmp_path, known):
    system, _ = source_system_ensure(code="card_centre", actor=None)
    path = write_file(tmp_path / "cards.csv", [
        _line(source_key="c-1", given_name="Kratochvilova", family_name="Jaroslava", birth_date="1968-11-04",
              phone="+420 777 000 111", email="j.kratochvilova@example.cz"),
    ])
    with path.open("rb") as handle:
        batch = import_batch_upload(source=system, file=handle, file_name="cards.csv", actor=None)
    customers = Customer.objects.count()
    batch = import_batch_preview(batch=batch, actor=None)
    assert batch.preview_counts["outcomes"]["review"] == 1
    assert Customer.objects.count() == customers and not MatchCandidate.objects.exists()


def test_lines_in_review_sharing_a_new_national_id_become_one_customer(tmp_path, known):
    from tests.customers.import_helpers import cz_rc

    new_id = cz_rc("685104", 11)  # a woman's birth number (month + 50)
    path = write_file(tmp_path / "cards.csv", [
        _line(source_key=f"c-{n}", given_name="Kratochvilova", family_name="Jaroslava", birth_date="1968-11-04",
              national_id=new_id, national_id_type="CZ_RC", email="j.kratochvilova@example.cz") for n in (1, 2)
    ])
    batch = batch_import(path, source="card_centre")
    assert sum(batch.counts.values()) == 2 and batch.counts["rejected"] == 0
    customers = set(ImportRow.objects.filter(batch=batch).values_list("customer_id", flat=True))
    assert len(customers) == 1 and known.pk not in customers


def test_the_review_page_says_which_import_line_sent_the_pair(client, tmp_path, known, supervisor_a):
    path = write_file(tmp_path / "cards.csv", [
        _line(source_key="c-1", given_name="Kratochvilova", family_name="Jaroslava", birth_date="1968-11-04",
              phone="+420 777 000 111", email="j.kratochvilova@example.cz"),
    ])
    batch = batch_import(path, source="card_centre")
    pair = MatchCandidate.objects.get()
    client.force_login(supervisor_a)
    page = client.get(f"/customers/review/{pair.pk}/").content.decode()
    assert f"batch #{batch.pk}, line 2" in page
