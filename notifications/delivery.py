"""The senders: email (Django's mail API), Slack incoming webhooks, Twilio SMS and calls, generic webhooks.

Each adapter either returns a provider id or raises:

- ``SendFailed(permanent=False, retry_after=...)`` for what may succeed later
  (connection refused, timeout, 5xx, 429 with its Retry-After);
- ``SendFailed(permanent=True)`` for what never will (any other 4xx, a refused
  recipient, a destination the SSRF guard blocks): dead letter, no retry;
- ``NotConfigured`` when the channel has no destination or credentials: the
  row is skipped, nothing crashes.

Error texts are built here, never copied from an exception that may carry a
URL with a token in it, and pass through ``redact`` so no secret (Twilio
token, SMTP password, Slack webhook path) reaches ``last_error`` or a log.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from collections.abc import Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit
from xml.sax.saxutils import escape as xml_escape

import requests
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone

from inbound import selectors as inbound_selectors
from tickets.models import Attachment

from . import mailthread
from .models import Notification, SlackChannel, WebhookEndpoint
from .urlsafety import BlockedDestination, post_json

logger = logging.getLogger(__name__)
TIMEOUT = (5.0, 10.0)  # connect, read


class SendFailed(Exception):
    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None, connection_lost: bool = False
    ) -> None:
        super().__init__(redact(message))
        self.permanent = permanent
        self.retry_after = retry_after
        self.connection_lost = connection_lost


class NotConfigured(Exception):
    pass


def _secrets() -> list[str]:
    values = [
        getattr(settings, "EMAIL_HOST_PASSWORD", ""),
        getattr(settings, "TWILIO_AUTH_TOKEN", ""),
    ]
    return [value for value in values if value and len(value) >= 4]


def redact(text: str) -> str:
    """Remove configured secrets and anything that looks like a Slack webhook path."""
    for secret in _secrets():
        text = text.replace(secret, "[redacted]")
    if "/services/" in text:
        head, _, _ = text.partition("/services/")
        text = head + "/services/[redacted]"
    return text[:500]


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - (now or timezone.now())).total_seconds())


def check_response(response: requests.Response, what: str) -> None:
    """Raise SendFailed for anything but 2xx: 429 and 5xx retry, other 4xx are final."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = ""
    try:
        data = response.json()
        if isinstance(data, dict):
            detail = str(data.get("message") or data.get("error") or "")[:200]
            if data.get("code"):
                detail = f"code {data['code']}: {detail}"
    except ValueError:
        detail = response.text[:200]
    message = f"{what} answered {status}{': ' + detail if detail else ''}"
    if status == 429:
        raise SendFailed(message, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    if status >= 500 or status in (408, 425):
        raise SendFailed(message, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
    raise SendFailed(message, permanent=True)


def _http_failure(exc: Exception, what: str, url: str) -> SendFailed:
    host = urlsplit(url).hostname or "?"
    if isinstance(exc, BlockedDestination):
        return SendFailed(f"{what}: destination refused: {exc}", permanent=True)
    if isinstance(exc, requests.Timeout):
        return SendFailed(f"{what}: timed out talking to {host}")
    return SendFailed(f"{what}: could not connect to {host} ({type(exc).__name__})")


# --- email ------------------------------------------------------------------------------


# Mail a person wrote (an agent's reply) is not marked as automatic; everything else is (RFC 3834).
WRITTEN_BY_PEOPLE = {Notification.Kind.REPLY}


def build_email(row: Notification) -> EmailMultiAlternatives:
    """The mail of one outbox row, with the Message-ID we stored and the thread it follows.

    Automatic mail (acknowledgments, notices, surveys, alerts) says ``Auto-Submitted:
    auto-generated`` and asks auto-responders to stay quiet; an agent's reply does not.
    Mail about a ticket has ``References`` / ``In-Reply-To`` (mailthread) and a
    ``Reply-To`` that routes back to the ticket; a reply carries its attachments; a status
    page subscriber's mail names its unsubscribe link in ``List-Unsubscribe``.
    """
    headers = {"Message-ID": row.message_id, "X-Loop": settings.NOTIFY_X_LOOP}
    if row.kind not in WRITTEN_BY_PEOPLE:
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
    unsubscribe = row.payload.get("list_unsubscribe") if isinstance(row.payload, dict) else None
    if unsubscribe:  # status page mail: the subscriber's one-click way out, as mail clients show it
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
    reply_to: list[str] = []
    if row.ticket_id and row.ticket and row.ticket.reference:
        thread = row.references.split() or [mailthread.root_id(row.ticket)]
        headers["References"] = " ".join(thread)
        headers["In-Reply-To"] = thread[-1]
        reply_to = [mailthread.reply_address(row.ticket)]
    message = EmailMultiAlternatives(
        subject=" ".join(row.subject.split()),
        body=row.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[row.recipient],
        reply_to=reply_to,
        headers=headers,
    )
    if row.body_html:
        message.attach_alternative(row.body_html, "text/html")
    for attachment in _attachments(row):
        with attachment.file.open("rb") as stored:
            message.attach(attachment.filename, stored.read(), attachment.content_type)
    return message


def _attachments(row: Notification) -> list[Attachment]:
    """The files the row says travel with it, in the reply's order; one that lost its file is left out."""
    wanted = row.payload.get("attachments") if isinstance(row.payload, dict) else None
    if not wanted or row.channel != Notification.Channel.EMAIL:
        return []
    found = {a.uuid.hex: a for a in Attachment.objects.filter(uuid__in=wanted, message__internal=False)}
    present = []
    for key in wanted:
        attachment = found.get(key)
        if attachment is not None and attachment.file.name and attachment.file.storage.exists(attachment.file.name):
            present.append(attachment)
        else:
            logger.warning("Outbox row %s: attachment %s is gone; the mail goes without it", row.pk, key)
    return present


def _smtp_failure(exc: Exception) -> SendFailed:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return SendFailed(f"SMTP refused the recipient ({', '.join(map(str, codes))})", permanent=permanent)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SendFailed(f"SMTP authentication failed ({exc.smtp_code})")
    if isinstance(exc, smtplib.SMTPResponseException):
        permanent = 500 <= exc.smtp_code < 600
        return SendFailed(f"SMTP answered {exc.smtp_code}", permanent=permanent)
    if isinstance(exc, socket.timeout | TimeoutError):
        return SendFailed("SMTP server timed out", connection_lost=True)
    return SendFailed(f"SMTP server unreachable ({type(exc).__name__}: {exc})", connection_lost=True)


class Mailer:
    """One SMTP connection for a batch of rows: open once, send each, close."""

    def __init__(self) -> None:
        self.connection = get_connection(fail_silently=False)
        self.opened = False

    def __enter__(self) -> Mailer:
        try:
            self.connection.open()
        except Exception as exc:
            raise _smtp_failure(exc) from None
        self.opened = True
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.connection.close()
        except Exception:  # a broken connection cannot be closed politely; nothing to lose
            logger.debug("SMTP close failed", exc_info=True)

    def send(self, row: Notification) -> str:
        if not row.recipient:
            raise NotConfigured("no email address")
        if inbound_selectors.address_undeliverable(row.recipient):
            raise NotConfigured("the address bounced: the desk sends it nothing (clear it in the console)")
        try:
            self.connection.send_messages([build_email(row)])
        except Exception as exc:
            raise _smtp_failure(exc) from None
        return row.message_id


# --- Slack --------------------------------------------------------------------------------


def slack_channel(name: str) -> SlackChannel:
    channel = SlackChannel.objects.filter(name=name).first()
    if channel is None or not channel.webhook_url:
        raise NotConfigured(f"Slack channel {name} has no incoming-webhook URL")
    return channel


def post_slack(channel: SlackChannel, text: str) -> str:
    """One message to a channel's incoming webhook."""
    try:
        response = post_json(channel.webhook_url, {"text": text}, timeout=TIMEOUT)
    except (requests.RequestException, BlockedDestination) as exc:
        raise _http_failure(exc, f"Slack {channel.name}", channel.webhook_url) from None
    with response:
        check_response(response, f"Slack {channel.name}")
    return f"slack:{channel.name}"


def slack_digest(rows: Sequence[Notification]) -> str:
    """One message for many alerts: a header and one line per alert (nothing dropped)."""
    if len(rows) == 1:
        return rows[0].body
    lines = [row.payload.get("line") or row.subject or row.body[:200] for row in rows]
    return f"*{len(rows)} alerts*\n" + "\n".join(f"• {line}" for line in lines)


# --- Twilio (SMS and voice), plain HTTP -------------------------------------------------------


def twilio_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER)


def _twilio(resource: str, fields: dict[str, str], what: str) -> str:
    if not twilio_configured():
        raise NotConfigured("Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER)")
    sid = settings.TWILIO_ACCOUNT_SID
    url = f"{settings.TWILIO_API_BASE.rstrip('/')}/2010-04-01/Accounts/{sid}/{resource}.json"
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                url,
                data={"From": settings.TWILIO_FROM_NUMBER, **fields},
                auth=(sid, settings.TWILIO_AUTH_TOKEN),
                timeout=TIMEOUT,
                allow_redirects=False,
            )
    except requests.RequestException as exc:
        raise _http_failure(exc, what, url) from None
    with response:
        check_response(response, what)
        try:
            return str(response.json().get("sid", ""))[:200]
        except ValueError:
            return ""


def send_sms(to: str, body: str) -> str:
    if not to:
        raise NotConfigured("no phone number on file")
    return _twilio("Messages", {"To": to, "Body": body[:1500]}, "Twilio SMS")


def place_call(to: str, text: str) -> str:
    if not to:
        raise NotConfigured("no phone number on file")
    twiml = f'<Response><Say voice="alice">{xml_escape(text[:1000])}</Say></Response>'
    return _twilio("Calls", {"To": to, "Twiml": twiml}, "Twilio call")


# --- generic webhooks ------------------------------------------------------------------------


def send_webhook(endpoint: WebhookEndpoint | None, payload: dict) -> str:
    if endpoint is None or not endpoint.active or not endpoint.url:
        raise NotConfigured("the webhook endpoint was removed or deactivated")
    try:
        response = post_json(endpoint.url, payload, timeout=TIMEOUT, headers={"User-Agent": "SofaCover-Desk/1"})
    except (requests.RequestException, BlockedDestination) as exc:
        raise _http_failure(exc, f"webhook {endpoint.name}", endpoint.url) from None
    with response:
        check_response(response, f"webhook {endpoint.name}")
    return f"webhook:{endpoint.pk}"


# --- start-up report ------------------------------------------------------------------------------


def unconfigured_channels() -> list[str]:
    """What cannot be delivered as configured: reported once when a worker starts; those rows are skipped."""
    problems = []
    if not twilio_configured():
        problems.append("SMS and phone calls: Twilio credentials are not set")
    problems += [
        f"Slack {name}: no incoming-webhook URL"
        for name in SlackChannel.objects.filter(webhook_url="").values_list("name", flat=True)
    ]
    if not settings.EMAIL_HOST and settings.EMAIL_BACKEND.endswith("smtp.EmailBackend"):
        problems.append("Email: EMAIL_HOST is not set")
    from .models import Responder

    missing = Responder.objects.filter(on_call=True, phone_number="").count()
    if missing:
        problems.append(f"{missing} on-call responder(s) have no phone number")
    return problems
