"""Channels' pages, by area: the 360° timeline and touchpoints (customer.py), complaints
(complaints.py), tasks, notifications, book transfer, prospects and lifecycle (work.py), channel
analytics (analytics.py). Each module lists its own `urlpatterns`; channels/urls.py joins them."""
