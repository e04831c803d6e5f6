"""The timeline and touchpoint reads: order, keyset paging, filters, bad cursors, one query each."""

from __future__ import annotations

import base64
import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels.models import ChannelSystem, ChurnFlag, Complaint, Interaction
from channels.selectors.timeline import (
    customer_touchpoint_map,
    customer_touchpoints,
    timeline_cursor_parse,
    timeline_page,
)
from channels.services.interactions import NewInteraction, interactions_store
from tests.customers.factories import CustomerFactory
from tests.query_plans import plan_of

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
START = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _store(customer, *moments, channel="atm", kind="transaction", staff=None, system=None, summary="Withdrawal",
           campaign_code=""):
    return interactions_store(items=[
        NewInteraction(customer_id=customer.pk, channel=channel, kind=kind, direction="inbound", occurred_at=at,
                       summary=summary, staff_id=staff.pk if staff else None, campaign_code=campaign_code,
                       source_system_id=system.pk if system else None)
        for at in moments
    ])


def _complaint(customer, status=Complaint.Status.OPEN) -> Complaint:
    return Complaint.objects.create(
        customer=customer, channel="branch", category=Complaint.Category.FEES, description="Fee charged twice",
        branch=customer.home_branch, opened_at=START, sla_due_at=START + datetime.timedelta(days=2), status=status,
    )


def test_timeline_page_newest_first_and_ties_by_higher_id(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    old, tie_1, tie_2, new = (
        *_store(customer, START), *_store(customer, START + datetime.timedelta(hours=1)),
        *_store(customer, START + datetime.timedelta(hours=1)), *_store(customer, START + datetime.timedelta(days=1)),
    )
    other = CustomerFactory(home_branch=branch_a)
    _store(other, START + datetime.timedelta(days=3))

    page = timeline_page(customer_id=customer.pk)

    assert [row.id for row in page.rows] == [new.pk, tie_2.pk, tie_1.pk, old.pk]
    assert page.next_cursor == "" and page.is_first


def test_timeline_page_carries_staff_name_source_system_and_campaign(branch_a, rm_a):
    rm_a.first_name, rm_a.last_name = "Wei", "Li"
    rm_a.save(update_fields=["first_name", "last_name"])
    customer = CustomerFactory(home_branch=branch_a)
    system = ChannelSystem.objects.create(code="atm-switch", name="ATM switch")
    _store(customer, START, staff=rm_a, channel="branch", kind="campaign_contact", campaign_code="SPRING26")
    _store(customer, START + datetime.timedelta(hours=1), system=system)

    from_system, by_staff = timeline_page(customer_id=customer.pk).rows

    assert (by_staff.staff_name, by_staff.source_system, by_staff.campaign_code) == ("Wei Li", "", "SPRING26")
    assert (from_system.staff_name, from_system.source_system) == ("", "atm-switch")


def test_timeline_paging_by_cursor_has_no_duplicates_or_gaps(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    # Groups of three contacts at the same moment, so page borders fall inside ties.
    moments = [START + datetime.timedelta(minutes=10 * (n // 3)) for n in range(47)]
    stored = _store(customer, *moments)
    expected = [row.pk for row in sorted(stored, key=lambda r: (r.occurred_at, r.pk), reverse=True)]

    seen, cursor, pages = [], "", 0
    while True:
        page = timeline_page(customer_id=customer.pk, before=cursor, limit=10)
        seen += [row.id for row in page.rows]
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor

    assert seen == expected
    assert pages == 5


def test_timeline_page_is_one_query_whatever_the_history(branch_a, rm_a):
    customer = CustomerFactory(home_branch=branch_a)
    _store(customer, *[START + datetime.timedelta(minutes=n) for n in range(300)], staff=rm_a)
    first = timeline_page(customer_id=customer.pk)
    with CaptureQueriesContext(connection) as queries:
        second = timeline_page(customer_id=customer.pk, channel="atm", kind="transaction", before=first.next_cursor)
    assert len(queries) == 1
    assert len(second.rows) == 20 and second.rows[0].id < first.rows[-1].id


def test_timeline_filters_by_channel_and_kind(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    atm = _store(customer, START, channel="atm", kind="transaction")
    web_enquiry = _store(customer, START, channel="web", kind="enquiry")
    web_sale = _store(customer, START, channel="web", kind="sale")

    assert [r.id for r in timeline_page(customer_id=customer.pk, channel="atm").rows] == [atm[0].pk]
    assert [r.id for r in timeline_page(customer_id=customer.pk, channel="web").rows] == [web_sale[0].pk,
                                                                                         web_enquiry[0].pk]
    both = timeline_page(customer_id=customer.pk, channel="web", kind="enquiry")
    assert [r.id for r in both.rows] == [web_enquiry[0].pk]
    assert (both.channel, both.kind) == ("web", "enquiry")


@pytest.mark.parametrize(("channel", "kind"), [("pigeon", ""), ("", "gossip"), ("ATM' OR 1=1", "sale')--")])
def test_timeline_unknown_filters_are_dropped(branch_a, channel, kind):
    customer = CustomerFactory(home_branch=branch_a)
    _store(customer, START, channel="atm")
    _store(customer, START, channel="web", kind="sale")

    page = timeline_page(customer_id=customer.pk, channel=channel, kind=kind)

    assert len(page.rows) == 2 and (page.channel, page.kind) == ("", "")


def _encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "garbage", "!!!", "x" * 500, _encoded("2026-01-05"), _encoded("not-a-date|12"),
    _encoded("2026-01-05T09:00:00|12"),  # no offset
    _encoded("2026-01-05T09:00:00+00:00|-5"), _encoded("2026-01-05T09:00:00+00:00|99999999999999999999"),
    _encoded("2026-01-05T09:00:00+00:00|1|2"), base64.urlsafe_b64encode(b"\xff\xfe|1").decode(),
])
def test_timeline_bad_cursor_gives_the_first_page(branch_a, cursor):
    customer = CustomerFactory(home_branch=branch_a)
    stored = _store(customer, START, START + datetime.timedelta(hours=1))

    page = timeline_page(customer_id=customer.pk, before=cursor)

    assert timeline_cursor_parse(cursor) is None
    assert page.is_first and [r.id for r in page.rows] == [stored[1].pk, stored[0].pk]


def test_customer_touchpoints_latest_contact_per_channel_in_one_query(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    _store(customer, START, START + datetime.timedelta(days=2), channel="atm")
    _store(customer, START + datetime.timedelta(days=1), channel="web", kind="enquiry")
    _store(CustomerFactory(home_branch=branch_a), START + datetime.timedelta(days=9), channel="sms")

    with CaptureQueriesContext(connection) as queries:
        touchpoints = customer_touchpoints(customer_id=customer.pk)

    assert len(queries) == 1
    by_channel = {t.channel: t for t in touchpoints}
    assert list(by_channel) == ["atm", "call_centre", "service_centre", "branch", "web", "mobile", "email", "sms",
                                "post"]
    assert by_channel["atm"].last_at == START + datetime.timedelta(days=2)
    assert (by_channel["web"].last_at, by_channel["web"].kind) == (START + datetime.timedelta(days=1), "enquiry")
    assert by_channel["sms"].last_at is None and by_channel["sms"].kind == ""


def test_customer_touchpoints_reads_by_index_not_by_scanning_the_history(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    _store(customer, *[START + datetime.timedelta(minutes=n) for n in range(50)])
    from channels.selectors.timeline import _touchpoint_sql

    # Sequential scans priced out: a tiny test table would be scanned anyway.
    plan = plan_of(_touchpoint_sql(with_header=True),
                   {"customer": customer.pk, "channels": ["atm", "web"], "open": ["open"]}, allow_sorts=True)
    assert "interaction_customer_chan_idx" in plan


def test_customer_touchpoint_map_counts_open_complaints_and_the_raised_flag(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    _complaint(customer)
    _complaint(customer, status=Complaint.Status.WAITING_CUSTOMER)
    _complaint(customer, status=Complaint.Status.RESOLVED)
    _complaint(CustomerFactory(home_branch=branch_a))
    ChurnFlag.objects.create(customer=customer, raised_at=START, reason="Escalated complaint")

    with CaptureQueriesContext(connection) as queries:
        found = customer_touchpoint_map(customer_id=customer.pk)

    assert len(queries) == 1
    assert found.open_complaints == 2
    assert found.churn_flag_raised and found.churn_flag_reason == "Escalated complaint"


def test_customer_touchpoint_map_ignores_a_cleared_flag(branch_a):
    customer = CustomerFactory(home_branch=branch_a)
    ChurnFlag.objects.create(customer=customer, raised_at=START, reason="Escalated", cleared_at=timezone.now())

    found = customer_touchpoint_map(customer_id=customer.pk)

    assert not found.churn_flag_raised and found.open_complaints == 0
    assert not Interaction.objects.exists()
