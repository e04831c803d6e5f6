"""Escalation on SLA breach, step by step up the ladder, with frozen time; skip-level routing."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from channels.models import ChurnFlag, Complaint, ComplaintEvent, EscalationContact, Notification, Task
from channels.models.complaints import Level
from channels.services.complaints import (
    complaint_answer_for_skipped_branch,
    complaint_open,
    complaint_update_status,
    complaints_escalate_due,
)
from crm_bank.audit.models import AuditEvent
from crm_bank.org.models import StaffProfile
from tests.channels.test_complaints import complaint_slas  # noqa: F401  (autouse)
from tests.customers.factories import CustomerFactory
from tests.org.factories import StaffProfileFactory

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
T0 = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
Role = StaffProfile.Role


def _with_email(user, address):
    user.email = address
    user.save(update_fields=["email"])
    return user


@pytest.fixture
def ladder(branch_a, rm_a, supervisor_a):
    """Branch A in region North, with an RM, a supervisor, a regional head and head office; all with e-mail."""
    branch_a.region = "North"
    branch_a.save(update_fields=["region"])
    regional = StaffProfileFactory(user__username="head_north", role=Role.SUPERVISOR, branch=None).user
    head_office = StaffProfileFactory(user__username="service_centre", role=Role.SUPERVISOR, branch=None).user
    regulator = StaffProfileFactory(user__username="regulator_liaison", role=Role.SUPERVISOR, branch=None).user
    EscalationContact.objects.create(level=Level.REGIONAL_HEAD, region="North", user=regional)
    EscalationContact.objects.create(level=Level.HEAD_OFFICE, region="", user=head_office)
    EscalationContact.objects.create(level=Level.REGULATOR, region="", user=regulator)
    for user in (rm_a, supervisor_a, regional, head_office, regulator):
        _with_email(user, f"{user.username}@bank.example")
    return {"rm": rm_a, "supervisor": supervisor_a, "regional": regional, "head_office": head_office,
            "regulator": regulator}


def _open(customer, actor, **extra):
    values = {"channel": "branch", "category": "fees", "severity": "critical",
              "description": "Charged twice for a transfer", **extra}
    return complaint_open(customer=customer, actor=actor, at=T0, **values)


def test_escalation_climbs_the_ladder_step_by_step(ladder, branch_a, django_capture_on_commit_callbacks):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"])
    assert (complaint.owner, complaint.level) == (ladder["rm"], Level.OWNER)
    assert complaint.sla_due_at == T0 + datetime.timedelta(hours=24)  # critical: 24 h, then 4 h steps
    assert complaint.next_escalation_at == complaint.sla_due_at

    with time_machine.travel(T0 + datetime.timedelta(hours=23), tick=False):
        assert complaints_escalate_due() == 0  # not due yet
    expected = [
        (T0 + datetime.timedelta(hours=24), ladder["supervisor"], Level.BRANCH_SUPERVISOR),
        (T0 + datetime.timedelta(hours=28), ladder["regional"], Level.REGIONAL_HEAD),
        (T0 + datetime.timedelta(hours=32), ladder["head_office"], Level.HEAD_OFFICE),
    ]
    previous = ladder["rm"]
    for moment, owner, level in expected:
        mail.outbox.clear()
        with time_machine.travel(moment, tick=False), django_capture_on_commit_callbacks(execute=True):
            assert complaints_escalate_due() == 1
            assert complaints_escalate_due() == 0  # run again at the same instant: nothing moves twice
        complaint.refresh_from_db()
        assert (complaint.owner, complaint.level, complaint.sla_breached) == (owner, level, True)
        event = ComplaintEvent.objects.filter(complaint=complaint, kind=ComplaintEvent.Kind.ESCALATED).latest("id")
        assert (event.from_owner, event.to_owner, event.level, event.at) == (previous, owner, level, moment)
        assert Notification.objects.filter(recipient=owner, kind=Notification.Kind.COMPLAINT_ESCALATED).count() == 1
        assert [message.to for message in mail.outbox if message.to == [owner.email]] == [[owner.email]]
        assert AuditEvent.objects.filter(object_type="complaint", object_id=str(complaint.pk),
                                         detail__escalated=True, detail__level=level).count() == 1
        previous = owner
    # The top of the ladder: no further step, still breached.
    assert complaint.next_escalation_at is None
    with time_machine.travel(T0 + datetime.timedelta(days=30), tick=False):
        assert complaints_escalate_due() == 0
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.level, complaint.sla_breached) == (ladder["head_office"], Level.HEAD_OFFICE,
                                                                          True)
    assert ComplaintEvent.objects.filter(complaint=complaint, kind=ComplaintEvent.Kind.ESCALATED).count() == 3


def test_escalation_sets_the_next_step_from_the_sla(ladder, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"], severity="high")  # 48 h, then 12 h steps
    moment = T0 + datetime.timedelta(hours=50)  # the beat ran late: the step counts from now
    complaints_escalate_due(now=moment)
    complaint.refresh_from_db()
    assert complaint.next_escalation_at == moment + datetime.timedelta(hours=12)


def test_escalation_uses_the_owners_manager_first(ladder, branch_a, rm_a2):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    rm_profile = StaffProfile.objects.get(user=ladder["rm"])
    rm_profile.manager = StaffProfile.objects.get(user=rm_a2)  # a team lead who is not the branch supervisor
    rm_profile.save(update_fields=["manager"])
    complaint = _open(customer, ladder["rm"])
    complaints_escalate_due(now=complaint.sla_due_at)
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.level) == (rm_a2, Level.BRANCH_SUPERVISOR)


def test_escalation_passes_over_a_level_nobody_holds(ladder, branch_a):
    EscalationContact.objects.filter(level=Level.REGIONAL_HEAD).delete()
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"])
    complaints_escalate_due(now=complaint.sla_due_at)
    complaint.refresh_from_db()
    complaints_escalate_due(now=complaint.next_escalation_at)
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.level, complaint.next_escalation_at) == (
        ladder["head_office"], Level.HEAD_OFFICE, None)


def test_escalation_leaves_resolved_cases_alone(ladder, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"])
    complaint_update_status(complaint=complaint, actor=ladder["rm"], status="resolved", resolution="Refunded",
                            at=T0 + datetime.timedelta(hours=1))
    assert complaints_escalate_due(now=T0 + datetime.timedelta(days=3)) == 0
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.sla_breached) == (ladder["rm"], False)


def test_escalation_raises_the_churn_flag_and_alerts_the_rm_once(ladder, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"])
    assert not ChurnFlag.objects.filter(customer=customer).exists()  # an ordinary customer's fresh case
    complaints_escalate_due(now=complaint.sla_due_at)
    flag = ChurnFlag.objects.get(customer=customer)
    assert flag.is_raised and flag.complaint == complaint and f"#{complaint.pk}" in flag.reason
    complaint.refresh_from_db()
    complaints_escalate_due(now=complaint.next_escalation_at)  # a second step: the flag is up already
    assert Task.objects.filter(customer=customer, kind=Task.Kind.CHURN_RISK, assignee=ladder["rm"]).count() == 1
    assert Notification.objects.filter(recipient=ladder["rm"], kind=Notification.Kind.CHURN_RISK).count() == 1


def test_one_broken_case_does_not_stop_the_others(ladder, branch_a, monkeypatch):
    from channels.services.complaints import escalation as services

    customers = CustomerFactory.create_batch(2, home_branch=branch_a, primary_rm=ladder["rm"])
    first, second = (_open(customer, ladder["rm"]) for customer in customers)
    real = services._complaint_escalate_one

    def flaky(*, complaint_id, now):
        if complaint_id == first.pk:
            raise RuntimeError("corrupt row")
        return real(complaint_id=complaint_id, now=now)

    monkeypatch.setattr(services, "_complaint_escalate_one", flaky)
    assert complaints_escalate_due(now=T0 + datetime.timedelta(hours=24)) == 1
    second.refresh_from_db()
    assert second.level == Level.BRANCH_SUPERVISOR


# --- skip-level (越级投诉) ---------------------------------------------------------------------------

def test_skip_level_goes_to_the_regional_head_and_tells_the_branch(ladder, branch_a,
                                                                   django_capture_on_commit_callbacks):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    with django_capture_on_commit_callbacks(execute=True):
        complaint = _open(customer, ladder["rm"], skip_level_to=Level.REGIONAL_HEAD)
    assert (complaint.owner, complaint.level, complaint.is_skip_level) == (
        ladder["regional"], Level.REGIONAL_HEAD, True)
    assert ComplaintEvent.objects.filter(complaint=complaint, kind=ComplaintEvent.Kind.SKIP_LEVEL,
                                         to_owner=ladder["regional"]).exists()
    told = Notification.objects.get(recipient=ladder["supervisor"], kind=Notification.Kind.SKIP_LEVEL)
    assert f"#{complaint.pk}" in told.text
    assert any(message.to == [ladder["supervisor"].email] for message in mail.outbox)
    assert Task.objects.filter(assignee=ladder["supervisor"], complaint=complaint, status="open").exists()
    # The RM is not the owner of a case the customer took over the branch's head.
    assert not Notification.objects.filter(recipient=ladder["rm"], kind=Notification.Kind.COMPLAINT_ASSIGNED).exists()


@pytest.mark.parametrize(("target", "holder"), [(Level.HEAD_OFFICE, "head_office"), (Level.REGULATOR, "regulator")])
def test_skip_level_goes_to_the_level_named(ladder, branch_a, target, holder):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"], skip_level_to=target)
    assert (complaint.owner, complaint.level) == (ladder[holder], target)


def test_a_skip_level_complaint_sent_again_is_one_case_but_another_level_is_another(ladder, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    regional = _open(customer, ladder["rm"], skip_level_to=Level.REGIONAL_HEAD)
    assert _open(customer, ladder["rm"], skip_level_to=Level.REGIONAL_HEAD) == regional
    assert _open(customer, ladder["rm"]) != regional  # the same text for the branch to handle
    head_office = _open(customer, ladder["rm"], skip_level_to=Level.HEAD_OFFICE)
    assert head_office != regional and head_office.level == Level.HEAD_OFFICE
    assert Complaint.objects.filter(customer=customer).count() == 3


def test_skip_level_falls_back_upward_then_to_an_admin(ladder, branch_a, bank_admin):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    EscalationContact.objects.filter(level=Level.REGIONAL_HEAD).delete()
    assert _open(customer, ladder["rm"], skip_level_to=Level.REGIONAL_HEAD).owner == ladder["head_office"]
    EscalationContact.objects.all().delete()
    complaint = _open(customer, ladder["rm"], skip_level_to=Level.REGIONAL_HEAD)
    assert (complaint.owner, complaint.level) == (bank_admin, Level.REGIONAL_HEAD)


def test_skip_level_case_cannot_close_before_the_branch_answers(ladder, branch_a, supervisor_b):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"], skip_level_to=Level.REGIONAL_HEAD)
    regional = ladder["regional"]
    complaint_update_status(complaint=complaint, actor=regional, status="resolved", resolution="Fee refunded")
    with pytest.raises(ValidationError) as refused:
        complaint_update_status(complaint=complaint, actor=regional, status="closed", satisfaction=4)
    assert "status" in refused.value.message_dict
    complaint.refresh_from_db()
    assert complaint.status == "resolved"

    with pytest.raises(PermissionDenied):  # another branch's supervisor
        complaint_answer_for_skipped_branch(complaint=complaint, actor=supervisor_b, answer="Not ours")
    with pytest.raises(PermissionDenied):  # the RM is not the branch's voice
        complaint_answer_for_skipped_branch(complaint=complaint, actor=ladder["rm"], answer="Sorry")
    with pytest.raises(ValidationError):
        complaint_answer_for_skipped_branch(complaint=complaint, actor=ladder["supervisor"], answer="  ")
    complaint_answer_for_skipped_branch(complaint=complaint, actor=ladder["supervisor"],
                                        answer="The counter clerk misread the fee table; retrained.")
    assert Task.objects.get(complaint=complaint, assignee=ladder["supervisor"]).status == "done"
    with pytest.raises(ValidationError):  # once
        complaint_answer_for_skipped_branch(complaint=complaint, actor=ladder["supervisor"], answer="Again")

    closed = complaint_update_status(complaint=complaint, actor=regional, status="closed", satisfaction=4)
    assert (closed.status, closed.satisfaction) == ("closed", 4)
    assert ComplaintEvent.objects.filter(complaint=complaint, kind=ComplaintEvent.Kind.SKIPPED_BRANCH_ANSWER).exists()


def test_skip_level_to_an_unknown_level_is_refused(ladder, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    with pytest.raises(ValidationError) as refused:
        _open(customer, ladder["rm"], skip_level_to=Level.BRANCH_SUPERVISOR)
    assert set(refused.value.message_dict) == {"skip_level_to"}
    assert not Complaint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_case_another_worker_holds_is_skipped_not_escalated_twice(ladder, branch_a):
    import threading

    from django.db import connection, transaction

    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"])
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        with transaction.atomic():
            Complaint.objects.select_for_update().get(pk=complaint.pk)
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        assert complaints_escalate_due(now=complaint.sla_due_at) == 0  # skipped, not waited for
    finally:
        release.set()
        thread.join()
    assert complaints_escalate_due(now=complaint.sla_due_at) == 1
    assert complaints_escalate_due(now=complaint.sla_due_at) == 0
    assert ComplaintEvent.objects.filter(complaint=complaint, kind=ComplaintEvent.Kind.ESCALATED).count() == 1


# --- who may act once a case is above the branch -------------------------------------------------------

def test_the_skipped_branchs_supervisor_may_only_answer(ladder, branch_a, rm_a2):
    from channels.services.complaints import complaint_assign, complaint_may_act, complaint_may_assign

    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"], skip_level_to=Level.REGIONAL_HEAD)
    supervisor = ladder["supervisor"]
    assert not complaint_may_act(complaint=complaint, user=supervisor)
    assert not complaint_may_assign(complaint=complaint, user=supervisor)
    with pytest.raises(PermissionDenied):  # cannot take the case back to the branch's own teller
        complaint_assign(complaint=complaint, actor=supervisor, assignee=rm_a2)
    for status, extra in (("in_progress", {}), ("resolved", {"resolution": "Sorted at the branch"})):
        with pytest.raises(PermissionDenied):
            complaint_update_status(complaint=complaint, actor=supervisor, status=status, **extra)
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.level, complaint.status) == (ladder["regional"], Level.REGIONAL_HEAD, "open")
    assert not ComplaintEvent.objects.filter(complaint=complaint, kind__in=["assigned", "status"]).exists()
    complaint_answer_for_skipped_branch(complaint=complaint, actor=supervisor, answer="We misread the fee table.")
    complaint.refresh_from_db()
    assert complaint.skipped_branch_answered_at is not None


def test_the_level_holder_may_hand_a_case_down_but_it_keeps_its_level(ladder, branch_a, rm_a2, bank_admin):
    from channels.services.complaints import complaint_assign, complaint_may_act

    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"], skip_level_to=Level.REGIONAL_HEAD)
    assigned = complaint_assign(complaint=complaint, actor=ladder["regional"], assignee=rm_a2, note="Check the ledger")
    assert (assigned.owner, assigned.level, assigned.is_skip_level) == (rm_a2, Level.REGIONAL_HEAD, True)
    event = ComplaintEvent.objects.filter(complaint=complaint, kind="assigned").latest("id")
    assert (event.from_owner, event.to_owner, event.level) == (ladder["regional"], rm_a2, Level.REGIONAL_HEAD)
    assert complaint_may_act(complaint=assigned, user=rm_a2)  # the owner works it
    assert complaint_may_act(complaint=assigned, user=ladder["regional"])  # the level's holder still may
    assert not complaint_may_act(complaint=assigned, user=ladder["supervisor"])
    # The current owner at that level may pass it on; so may an admin.
    complaint_assign(complaint=assigned, actor=rm_a2, assignee=ladder["rm"])
    complaint_assign(complaint=assigned, actor=bank_admin, assignee=rm_a2)
    # It keeps escalating from its level, not from the branch's.
    complaints_escalate_due(now=complaint.sla_due_at)
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.level) == (ladder["head_office"], Level.HEAD_OFFICE)


def test_an_escalated_case_is_out_of_the_branch_supervisors_hands(ladder, branch_a, rm_a2):
    from channels.services.complaints import complaint_assign

    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"])
    complaints_escalate_due(now=complaint.sla_due_at)  # → branch supervisor
    complaint.refresh_from_db()
    # At its own level the supervisor hands it on; it stays at that level and escalates on from there.
    complaint_assign(complaint=complaint, actor=ladder["supervisor"], assignee=rm_a2)
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.level) == (rm_a2, Level.BRANCH_SUPERVISOR)
    complaints_escalate_due(now=complaint.next_escalation_at)  # → regional head
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.level) == (ladder["regional"], Level.REGIONAL_HEAD)
    with pytest.raises(PermissionDenied):
        complaint_assign(complaint=complaint, actor=ladder["supervisor"], assignee=rm_a2)
    with pytest.raises(PermissionDenied):
        complaint_update_status(complaint=complaint, actor=ladder["supervisor"], status="resolved",
                                resolution="Handled at the branch")
    with pytest.raises(PermissionDenied):  # the former owner neither
        complaint_update_status(complaint=complaint, actor=rm_a2, status="in_progress")
    complaint.refresh_from_db()
    assert (complaint.owner, complaint.level, complaint.status) == (ladder["regional"], Level.REGIONAL_HEAD, "open")
    complaint_update_status(complaint=complaint, actor=ladder["regional"], status="in_progress")


def test_skip_level_within_the_bank_never_lands_with_the_regulator(ladder, branch_a, bank_admin):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    EscalationContact.objects.filter(level__in=[Level.REGIONAL_HEAD, Level.HEAD_OFFICE]).delete()
    for target in (Level.REGIONAL_HEAD, Level.HEAD_OFFICE):
        complaint = _open(customer, ladder["rm"], skip_level_to=target)
        assert (complaint.owner, complaint.level) == (bank_admin, target)
    to_regulator = _open(customer, ladder["rm"], skip_level_to=Level.REGULATOR)
    assert (to_regulator.owner, to_regulator.level) == (ladder["regulator"], Level.REGULATOR)
    assert Notification.objects.filter(recipient=ladder["regulator"]).count() == 1  # only the case meant for them


# --- tasks follow the case ---------------------------------------------------------------------------

def _open_tasks(complaint):
    return sorted(Task.objects.filter(complaint=complaint, kind=Task.Kind.COMPLAINT_ACTION, status="open")
                  .values_list("assignee__username", flat=True))


def test_escalation_moves_the_action_task_to_the_new_owner(ladder, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"])
    assert _open_tasks(complaint) == [ladder["rm"].username]
    complaints_escalate_due(now=complaint.sla_due_at)
    assert _open_tasks(complaint) == [ladder["supervisor"].username]
    rm_task = Task.objects.get(complaint=complaint, assignee=ladder["rm"], kind=Task.Kind.COMPLAINT_ACTION)
    assert (rm_task.status, rm_task.done_by) == ("cancelled", None)
    complaint.refresh_from_db()
    complaints_escalate_due(now=complaint.next_escalation_at)
    assert _open_tasks(complaint) == [ladder["regional"].username]


def test_resolving_a_skip_level_case_leaves_the_branchs_answer_task_open(ladder, branch_a):
    customer = CustomerFactory(home_branch=branch_a, primary_rm=ladder["rm"])
    complaint = _open(customer, ladder["rm"], skip_level_to=Level.REGIONAL_HEAD)
    regional, supervisor = ladder["regional"], ladder["supervisor"]
    complaint_update_status(complaint=complaint, actor=regional, status="resolved", resolution="Fee refunded")
    own = Task.objects.get(complaint=complaint, assignee=regional)
    answer = Task.objects.get(complaint=complaint, assignee=supervisor)
    assert (own.status, own.done_by) == ("done", regional)
    assert (answer.status, answer.done_by) == ("open", None)  # the branch still has to answer
    complaint_answer_for_skipped_branch(complaint=complaint, actor=supervisor, answer="Retrained the clerk.")
    answer.refresh_from_db()
    assert (answer.status, answer.done_by) == ("done", supervisor)
