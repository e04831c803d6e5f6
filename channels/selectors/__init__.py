"""Channels' reads, by concept: the timeline and touchpoints (timeline.py), complaint queues
(complaints.py), landing-page work (work.py), channel analytics (analytics.py), lifecycle funnel
(lifecycle.py)."""
