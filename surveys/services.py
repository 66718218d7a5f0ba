"""Every change of satisfaction: ratings, and the emailed survey links that ask for them.

The requester rates a resolved (or closed) ticket once, and may change the rating for 7
days. On resolution the survey mail goes out through the outbox with a signed, expiring,
single-use link; rating through it spends it. Each function takes ``now`` from its caller.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.signing import BadSignature, Signer, TimestampSigner, b62_decode, b62_encode
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy

from notifications import services as notifications
from notifications.models import Notification
from sofacover.errors import Conflict, DomainError
from tickets import selectors as ticket_selectors
from tickets.models import Ticket
from tickets.services import NotAllowed

from . import permissions
from .models import Rating, SurveyToken

Status = Ticket.Status

RATING_CHANGE_WINDOW = timedelta(days=7)
RATED_STATUSES = (Status.RESOLVED, Status.CLOSED)
# Part of every survey link's signature: links already mailed stop working if it changes.
SURVEY_SALT = "tickets.survey.link"


class TicketNotResolved(Conflict):
    code = "ticket_not_resolved"


class RatingLocked(Conflict):
    code = "rating_locked"


class SurveyLinkInvalid(DomainError):
    """Forged, truncated or unknown: shown exactly like a link that never existed."""

    code = "survey_link_invalid"
    http_status = 404


class SurveyLinkExpired(DomainError):
    code = "survey_link_expired"
    http_status = 410


class SurveyLinkUsed(DomainError):
    code = "survey_link_used"
    http_status = 410


def rating_can_change(rating: Rating, *, now: datetime) -> bool:
    """A rating may be replaced for 7 days after it was first given."""
    return now - rating.created_at <= RATING_CHANGE_WINDOW


@transaction.atomic
def rating_submit(*, ticket: Ticket, actor: User, score: int, comment: str = "", now: datetime) -> tuple[Rating, bool]:
    """Rate a resolved or closed ticket as its requester; within 7 days a new rating replaces the old.

    Returns the rating and whether it was created (False: replaced).

    :raises NotAllowed: the actor is not the requester (agents included)
    :raises DomainError: the score is not a whole number from 1 to 5
    :raises TicketNotResolved: the ticket is still being worked on
    :raises RatingLocked: the ticket was rated more than 7 days ago
    """
    if not permissions.can_rate_ticket(actor, ticket):
        raise NotAllowed(gettext_lazy("Only the customer who filed this ticket can rate it."))
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise DomainError(gettext_lazy("Choose a score from 1 to 5."), field="score")
    # The ticket's row lock: a reopen and a rating, or two ratings, queue instead of crossing.
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status not in RATED_STATUSES:
        raise TicketNotResolved(gettext_lazy("You can rate a ticket once it is resolved."))
    comment = comment.strip()[:2000]
    rating = Rating.objects.filter(ticket=ticket).first()
    if rating is None:
        rating = Rating.objects.create(ticket=ticket, score=score, comment=comment, created_at=now, updated_at=now)
        return rating, True
    if not rating_can_change(rating, now=now):
        raise RatingLocked(gettext_lazy("This rating was given more than 7 days ago and can no longer be changed."))
    rating.score, rating.comment, rating.updated_at = score, comment, now
    rating.save(update_fields=["score", "comment", "updated_at"])
    return rating, False


# --- the emailed survey ------------------------------------------------------------


def survey_send(*, ticket: Ticket, now: datetime) -> bool:
    """Email the requester a signed, expiring, single-use survey link; once per resolution.

    The n in the dedupe key counts the ticket's resolutions, so a ticket reopened and
    resolved again gets a new survey (unless it was rated), and a retry gets none.
    """
    requester = ticket.requester
    if not requester.email or Rating.objects.filter(ticket_id=ticket.pk).exists():
        return False
    n = ticket_selectors.ticket_resolution_count(ticket=ticket)
    token = survey_link_issue(ticket=ticket, now=now)
    context = {
        "ticket": ticket,
        "customer_name": requester.get_full_name() or requester.email,
        # From DESK_BASE_URL, never from a request's Host header.
        "survey_url": settings.DESK_BASE_URL.rstrip("/") + reverse("portal:survey", kwargs={"token": token}),
        "valid_days": settings.SURVEY_LINK_MAX_AGE.days,
    }
    return notifications.queue(
        channel=Notification.Channel.EMAIL,
        kind=Notification.Kind.RESOLUTION,
        recipient=requester.email,
        subject=f"[{ticket.reference}] How did we do?",
        body=render_to_string("surveys/email/survey.txt", context),
        body_html=render_to_string("surveys/email/survey.html", context),
        dedupe_key=f"survey:{ticket.pk}:{n}",
        now=now,
        ticket=ticket,
        user=requester,
    )


class _SurveySigner(TimestampSigner):
    """A TimestampSigner whose clock is the caller's ``now``."""

    def __init__(self, *, now: datetime) -> None:
        super().__init__(salt=SURVEY_SALT, algorithm="sha256")
        self._now = now

    def timestamp(self) -> str:
        return b62_encode(int(self._now.timestamp()))


def survey_link_issue(*, ticket: Ticket, now: datetime) -> str:
    """A new single-use survey token for ``ticket``: signed, dated ``now``, 128 random bits."""
    nonce = secrets.token_urlsafe(16)
    SurveyToken.objects.create(ticket=ticket, nonce=nonce, created_at=now)
    return _SurveySigner(now=now).sign(f"{ticket.pk}.{nonce}")


def _survey_token_check(token: str, *, now: datetime) -> SurveyToken:
    signer = _SurveySigner(now=now)
    try:
        # Signer.unsign checks the signature over "value:timestamp"; the age is checked against ``now``.
        value, stamp = Signer.unsign(signer, token).rsplit(":", 1)
        signed_at = b62_decode(stamp)
    except (BadSignature, ValueError) as exc:
        raise SurveyLinkInvalid(gettext_lazy("This survey link is not valid.")) from exc
    ticket_id, _, nonce = value.partition(".")
    row = SurveyToken.objects.select_related("ticket__requester").filter(nonce=nonce).first() if nonce else None
    if row is None or not hmac.compare_digest(row.nonce, nonce) or str(row.ticket_id) != ticket_id:
        raise SurveyLinkInvalid(gettext_lazy("This survey link is not valid."))
    if now.timestamp() - signed_at > settings.SURVEY_LINK_MAX_AGE.total_seconds():
        raise SurveyLinkExpired(gettext_lazy("This survey link has expired."))
    if row.used_at is not None:
        raise SurveyLinkUsed(gettext_lazy("This survey link has already been used."))
    return row


def survey_link_open(*, token: str, now: datetime) -> SurveyToken:
    """The survey token behind a link, if the link is genuine, unexpired and unused.

    :raises SurveyLinkInvalid: forged, truncated, or for no survey we sent (404)
    :raises SurveyLinkExpired: older than settings.SURVEY_LINK_MAX_AGE (410)
    :raises SurveyLinkUsed: a rating was already given through it (410)
    """
    return _survey_token_check(token, now=now)


@transaction.atomic
def survey_link_rate(*, token: str, score: int, comment: str = "", now: datetime) -> Rating:
    """Rate through an emailed link, on the requester's behalf; the link is spent by it."""
    row = _survey_token_check(token, now=now)
    if SurveyToken.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now) != 1:
        raise SurveyLinkUsed(gettext_lazy("This survey link has already been used."))
    rating, _ = rating_submit(ticket=row.ticket, actor=row.ticket.requester, score=score, comment=comment, now=now)
    return rating
