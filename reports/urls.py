from django.urls import path

from . import api, views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:table>.csv", views.csv_export, name="csv"),
]

# Mounted under /api/v1/reports/ by sofacover/urls.py (outside the "reports" namespace).
api_urlpatterns = [
    path("sla/", api.SlaReportView.as_view(), name="reports-sla"),
    path("satisfaction/", api.SatisfactionReportView.as_view(), name="reports-satisfaction"),
    path("summary/", api.SummaryReportView.as_view(), name="reports-summary"),
]
