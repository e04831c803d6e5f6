"""Tasks and notifications: follow-ups, KYC refresh, introductions, feedback clocks; done with one click."""

from __future__ import annotations
