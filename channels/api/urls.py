"""The channel ingest API (Django REST framework), mounted at /api/ by the root URLconf.

Channel systems authenticate with their token, not a staff session: every view here is exempt from
the sign-in redirect and answers 401 itself.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.urls import path

from channels.api import views

app_name = "api"
urlpatterns = [
    path("v1/interactions/", login_not_required(views.InteractionCreateView.as_view()), name="interaction-create"),
    path("v1/interactions/batch/", login_not_required(views.InteractionBatchView.as_view()),
         name="interaction-batch"),
    path("v1/customers/<str:cif>/timeline/", login_not_required(views.CustomerTimelineView.as_view()),
         name="customer-timeline"),
    path("schema/", login_not_required(views.SchemaView.as_view()), name="schema"),
    path("docs/", login_not_required(views.api_docs), name="docs"),
]
