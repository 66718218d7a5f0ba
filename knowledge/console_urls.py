"""The knowledge base's console actions on a ticket (POST only; agents; see knowledge/console.py).

Served through support.console, which adds the reply from a template (a use case)."""

from django.urls import path

from . import console

app_name = "kb-console"

urlpatterns = [
    path("tickets/<str:reference>/runbooks/attach/", console.runbook_attach, name="runbook-attach"),
    path(
        "tickets/<str:reference>/runbooks/<int:runbook>/steps/<int:step>/",
        console.runbook_step,
        name="runbook-step",
    ),
]
