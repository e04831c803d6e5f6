"""Channels' writes, by concept: storing interactions (interactions.py), complaint cases
(complaints.py), tasks and notifications (work.py), book transfers (continuity.py), lifecycle
(lifecycle.py), API tokens and the holding list (systems.py)."""
