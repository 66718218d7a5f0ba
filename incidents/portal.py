"""Incidents in the customer portal: the notice on the new-ticket form.

A customer filing a ticket while a public incident is open sees it first: its title,
its status and the components it affects, with a link to the status page. Only the
fields the status page shows (models.py lists them): never the impact, the war room,
the commander, the actions or internal updates. support.portal.views puts it on the form.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from . import selectors

STATUS_PAGE_URL = "/status/"
# A form is no place for a list: the newest few, and the status page for the rest.
NOTICES_SHOWN = 3


def filing_notice(request: HttpRequest) -> SafeString | None:
    """The open public incidents, newest first, or None when there are none."""
    incidents = list(selectors.open_public_incidents()[: NOTICES_SHOWN + 1])
    if not incidents:
        return None
    rows = [
        {
            "title": incident.title,
            "status": incident.get_status_display(),
            "components": [component.name for component in incident.components.all() if component.public],
        }
        for incident in incidents[:NOTICES_SHOWN]
    ]
    context = {"incidents": rows, "more": len(incidents) > NOTICES_SHOWN, "status_url": STATUS_PAGE_URL}
    return render_to_string("incidents/portal/filing_notice.html", context, request=request)
