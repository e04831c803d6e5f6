from __future__ import annotations

from django.urls import path

from campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.campaign_edit, name="new"),
    path("approvals/", views.approvals, name="approvals"),
    path("queue/", views.rm_queue, name="queue"),
    path("<int:pk>/outcome/<int:customer_pk>/", views.campaign_outcome, name="outcome"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/dashboard/", views.campaign_dashboard, name="dashboard"),
    path("<int:pk>/submit/", views.campaign_submit, name="submit"),
    path("<int:pk>/approve/", views.campaign_approve, name="approve"),
    path("<int:pk>/reject/", views.campaign_reject, name="reject"),
    path("<int:pk>/launch/", views.campaign_launch, name="launch"),
    path("<int:pk>/close/", views.campaign_close, name="close"),
    path("<int:pk>/targeting/", views.campaign_targeting_start, name="targeting-start"),
    path("<int:pk>/targeting/<int:run_id>/", views.campaign_targeting_progress, name="targeting-progress"),
]
