from __future__ import annotations

from channels.views import analytics, complaints, customer, work

app_name = "channels"
urlpatterns = [*analytics.urlpatterns, *customer.urlpatterns, *complaints.urlpatterns, *work.urlpatterns]
