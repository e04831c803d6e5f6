"""Complaint cases: open (from staff, the API or a skip-level route), assign, escalate on SLA
breach, resolve and close; the churn-risk flag and notifications they raise.

The escalation ladder, bottom to top: the case owner → the branch supervisor (the owner's manager
if set) → the regional head of the branch's region → the head-office service centre. A level with
nobody configured is passed over to the next one up; with nobody at all the case goes to an
administrator, so a case is never lost.

ladder.py: who holds a case at each level and who may act on it; cases.py: opening, status,
assignment, the skipped branch's answer; churn.py: the churn-risk flag; escalation.py: the SLA
breach steps; hooks.py: cases and feedback clocks from stored interactions (registered on import).
"""

from __future__ import annotations

from channels.services.complaints import hooks  # noqa: F401  (registers the after-store hooks)
from channels.services.complaints.cases import (
    complaint_answer_for_skipped_branch,
    complaint_assign,
    complaint_errors,
    complaint_open,
    complaint_update_status,
)
from channels.services.complaints.churn import churn_flag_clear, churn_flag_raise
from channels.services.complaints.escalation import complaints_escalate_due
from channels.services.complaints.ladder import (
    DESCRIPTION_MAX,
    RESOLUTION_MAX,
    TRANSITIONS,
    branch_supervisor,
    complaint_may_act,
    complaint_may_assign,
)

__all__ = [
    "DESCRIPTION_MAX", "RESOLUTION_MAX", "TRANSITIONS", "branch_supervisor", "churn_flag_clear", "churn_flag_raise",
    "complaint_answer_for_skipped_branch", "complaint_assign", "complaint_errors", "complaint_may_act",
    "complaint_may_assign", "complaint_open", "complaint_update_status", "complaints_escalate_due",
]
