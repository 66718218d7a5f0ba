"""The SLA engine's part of the customer portal.

- A panel on the customer's ticket page: when to expect a first reply and a
  resolution, in plain language (no rule names, no notes or names from the
  desk), and the "Ask to escalate" form while the ticket is active and the
  customer has not asked yet (once per ticket).

The ticket page (support.portal.views) shows the panel and posts the form to
support.portal.views.ticket_escalate (the use case support.usecases.escalate).
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.models import Ticket

from . import selectors, sla
from .models import Escalation

State = selectors.SlaState
RUNNING = (State.ON_TRACK, State.AT_RISK)


class AskToEscalateForm(forms.Form):
    prefix = "escalate"  # the reply form shares the page

    note = forms.CharField(
        required=False,
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("Anything we should know?"),
    )
    # The tier the page was shown at: a second click on a stale page does not escalate twice.
    tier = forms.TypedChoiceField(choices=Ticket.Tier.choices, coerce=int, widget=forms.HiddenInput)


def target_label(amount: int, unit: str, *, always_open: bool) -> str:
    """``4 working hours``, ``15 minutes``, ``5 working days``, ``1 week``: a target as a customer reads it."""
    if unit == sla.BUSINESS_DAYS and always_open:  # a day is 24 h around the clock
        amount, unit = (amount // 7, "week") if amount % 7 == 0 else (amount, "day")
    elif unit == sla.BUSINESS_DAYS:
        unit = "working day"
    elif unit == sla.HOURS:
        unit = "hour" if always_open else "working hour"
    else:
        unit = "minute"
    return f"{amount} {unit}{'s' if amount != 1 else ''}"


def _asked(escalations: list[Escalation]) -> Escalation | None:
    """The customer's request for this ticket, if they made it (one per ticket)."""
    for escalation in escalations:
        if escalation.reason == Escalation.Reason.CUSTOMER_REQUEST:
            return escalation
    return None


def ticket_sla_panel(request: HttpRequest, ticket: Ticket) -> str | None:
    """What the customer may know about the ticket's deadlines, and the ask-to-escalate form."""
    if ticket.status == Ticket.Status.CLOSED:
        return None
    now = timezone.now()
    states = selectors.sla_state(ticket, now=now)
    entry = selectors.policy_book().entry(ticket.priority)
    asked = _asked(list(selectors.escalation_list_for(ticket)))
    can_ask = ticket.is_active and asked is None and request.user.pk == ticket.requester_id
    promise = None
    if entry is not None:
        always_open = entry.calendar.always_open
        promise = {
            "priority": ticket.get_priority_display(),
            "response": target_label(
                entry.policy.first_response_target, entry.policy.first_response_unit, always_open=always_open
            ),
            "resolution": target_label(
                entry.policy.resolution_target, entry.policy.resolution_unit, always_open=always_open
            ),
        }
    context = {
        "ticket": ticket,
        "response_state": states["response"],
        "resolution_state": states["resolution"],
        "running": RUNNING,
        "promise": promise,
        "asked": asked,
        "form": AskToEscalateForm(initial={"tier": ticket.tier}) if can_ask else None,
    }
    return render_to_string("escalation/portal/ticket_panel.html", context, request=request)
