from __future__ import annotations

from django.urls import include, path

from customers import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="customer-list"),
    path("filters/", views.customer_list_filters, name="customer-list-filters"),
    path("<int:pk>/", views.customer_detail, name="customer-detail"),
    path("<int:pk>/transactions/", views.customer_transactions_panel, name="customer-transactions"),
    path("<int:pk>/changes/", views.customer_field_changes_panel, name="customer-field-changes"),
    path("<int:pk>/data-quality/", views.customer_data_quality_panel, name="customer-data-quality"),
    path("my-book/", views.my_book, name="my-book"),
    path("branch/", views.branch_dashboard, name="branch-dashboard"),
    path("data-quality/", views.data_quality_league, name="data-quality"),
    path("imports/", include("customers.import_views")),
    path("review/", include("customers.review_views")),
    path("", include("customers.unmask_views")),
]
