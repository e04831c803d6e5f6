"""Complaint cases: open (from staff, the API or a skip-level route), assign, escalate on SLA
breach, resolve and close; the churn-risk flag and notifications they raise."""

from __future__ import annotations
