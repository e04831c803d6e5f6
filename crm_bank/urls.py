from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from crm_bank.health import healthz
from crm_bank.security import views as security_views
from customers.views import home

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", security_views.two_factor_verify, name="two-factor-verify"),
    path("accounts/two-factor/setup/", security_views.two_factor_setup, name="two-factor-setup"),
    path("accounts/two-factor/backup-codes/", security_views.backup_codes, name="two-factor-backup-codes"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("audit/", include("crm_bank.audit.views")),
    path("customers/", include("customers.urls")),
    path("segmentation/", include("segmentation.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("performance/", include("performance.urls")),
    path("channels/", include("channels.urls")),
    path("api/", include("channels.api.urls")),
    path("data-notes/", include("demo.urls")),
]
