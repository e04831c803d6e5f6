from __future__ import annotations

from django.urls import path, re_path

from performance import views

app_name = "performance"
urlpatterns = [
    path("", views.index, name="index"),
    path("home/", views.supervisor_home, name="home"),
    path("runs/", views.kpi_run_request, name="run-start"),
    path("runs/<int:run_id>/progress/", views.kpi_run_progress, name="run-progress"),
    path("branch/<str:code>/", views.branch_scorecard, name="branch"),
    path("rm/<str:username>/", views.rm_scorecard, name="rm"),
    path("targets/", views.targets, name="targets"),
    path("campaign/<int:pk>/", views.campaign_scorecard, name="campaign"),
    re_path(r"^campaign/(?P<pk>\d+)/export\.(?P<file_format>csv|xlsx)$", views.campaign_scorecard_export,
            name="campaign-export"),
    re_path(r"^(?P<scope>rm|branch)/(?P<key>[^/]+)/customers/(?P<kpi_code>[-\w]+)/$", views.kpi_customer_list,
            name="customers"),
    re_path(r"^(?P<scope>rm|branch)/(?P<key>[^/]+)/why/(?P<kpi_code>[-\w]+)/$", views.diagnosis, name="diagnosis"),
    re_path(r"^(?P<scope>rm|branch)/(?P<key>[^/]+)/export\.(?P<file_format>csv|xlsx)$", views.scorecard_export,
            name="export"),
]
