"""Channels' models, by concept: the systems that send contacts and their tokens (systems.py), the
interaction timeline and its rollups (interactions.py), complaint cases (complaints.py), and the
work that keeps a relationship going: tasks, notifications, book transfers, lifecycle (work.py)."""

from channels.models.complaints import Complaint, ComplaintEvent, ComplaintSLA, EscalationContact
from channels.models.interactions import HeldInteraction, Interaction, InteractionDailyCount
from channels.models.systems import ChannelSystem, ChannelToken
from channels.models.work import (
    BookTransfer,
    ChurnFlag,
    LifecycleRule,
    LifecycleSnapshot,
    Notification,
    Task,
)

__all__ = [
    "BookTransfer", "ChannelSystem", "ChannelToken", "ChurnFlag", "Complaint", "ComplaintEvent", "ComplaintSLA",
    "EscalationContact", "HeldInteraction", "Interaction", "InteractionDailyCount", "LifecycleRule",
    "LifecycleSnapshot", "Notification", "Task",
]
