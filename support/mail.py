"""The mail gateway's doors, wired to the receive_email use case: the SMTP listener, the IMAP poller and
the provider webhook (inbound/ holds the protocols; here each door reads the clock and calls the use case)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inbound import imap, smtp, webhook
from inbound.models import InboundMail
from inbound.parsing import MailRejected
from inbound.services import Receipt

from . import usecases

logger = logging.getLogger(__name__)
Door = InboundMail.Door


def receiver(door: str) -> Callable[[bytes], Receipt]:
    """The use case as a door calls it: one message in, the clock read when it arrives."""

    def receive(raw: bytes) -> Receipt:
        return usecases.receive_email(raw, now=timezone.now(), door=door)

    return receive


def receive_smtp(raw: bytes) -> Receipt:
    """The SMTP door's call, by a name worker processes can import (inbound.workers)."""
    return usecases.receive_email(raw, now=timezone.now(), door=Door.SMTP)


def smtp_gateway(
    *, hostname: str | None = None, port: int | None = None, workers: int = 4, processes: int = 0
) -> smtp.Gateway:
    """The SMTP listener (``manage.py mailgate``; tests start it on a free port). ``processes``: hand
    messages to that many worker processes instead of ``workers`` threads (several cores)."""
    return smtp.Gateway(
        receive_smtp,
        hostname=hostname or settings.MAIL_GATEWAY_HOST,
        port=settings.MAIL_GATEWAY_PORT if port is None else port,
        max_bytes=settings.MAIL_MAX_BYTES,
        workers=workers,
        receive_path=f"{__name__}.receive_smtp",
        processes=processes,
    )


def configured_mailbox() -> imap.Mailbox | None:
    if not settings.MAIL_IMAP_HOST:
        return None
    return imap.Mailbox(
        host=settings.MAIL_IMAP_HOST,
        port=settings.MAIL_IMAP_PORT,
        user=settings.MAIL_IMAP_USER,
        password=settings.MAIL_IMAP_PASSWORD,
        name=settings.MAIL_IMAP_MAILBOX,
        use_ssl=settings.MAIL_IMAP_SSL,
    )


def fetch_mail(box: imap.Mailbox | None = None) -> imap.PollResult | None:
    """One IMAP poll of ``box`` (the configured mailbox by default); None when no mailbox is configured."""
    box = box or configured_mailbox()
    if box is None:
        return None
    return imap.poll(
        box, receive=receiver(Door.IMAP), max_bytes=settings.MAIL_MAX_BYTES, batch=settings.MAIL_IMAP_BATCH
    )


# Multipart overhead on top of the message itself (the other fields Mailgun posts).
WEBHOOK_OVERHEAD = 1024 * 1024


@csrf_exempt
@require_POST
def mailgun_inbound(request: HttpRequest) -> HttpResponse:
    """Mailgun's forward() of a message (inbound.webhook): 200 stored, 406 refused (Mailgun does not
    retry), 403 bad signature, 413 too large, 503 the desk failed (Mailgun retries)."""
    key = settings.MAIL_WEBHOOK_SIGNING_KEY
    if not key:
        raise Http404(gettext("The inbound webhook is not configured."))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if length < 0 or length > settings.MAIL_MAX_BYTES + WEBHOOK_OVERHEAD:
        return JsonResponse({"detail": "The message is too large."}, status=413)
    fields = webhook.form_fields(request.META.get("CONTENT_TYPE", ""), request.read(length))
    text = {name: fields.get(name, b"").decode("ascii", "replace") for name in ("timestamp", "token", "signature")}
    if not webhook.signature_valid(
        key=key,
        timestamp=text["timestamp"],
        token=text["token"],
        signed=text["signature"],
        now=timezone.now(),
        max_age=settings.MAIL_WEBHOOK_MAX_AGE_SECONDS,
    ):
        return JsonResponse({"detail": "The signature is missing, wrong, stale or replayed."}, status=403)
    raw = fields.get("body-mime")
    if not raw:
        return JsonResponse({"detail": "No body-mime field: forward the raw MIME message."}, status=406)
    try:
        receipt = receiver(Door.WEBHOOK)(raw)
    except MailRejected as exc:
        logger.warning("webhook mail refused (%s): %s", exc.code, exc.message)
        return JsonResponse({"code": exc.code, "detail": exc.message}, status=406)
    except Exception:
        logger.exception("webhook mail failed; Mailgun will retry")
        return JsonResponse({"detail": "The desk could not take the message now."}, status=503)
    body = {"outcome": receipt.outcome, "ticket": receipt.ticket_reference, "duplicate": receipt.duplicate}
    return HttpResponse(json.dumps(body), content_type="application/json")
