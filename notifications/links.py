"""Links in mail to a reply's attachments that were too large to attach.

A CC'd person has no account, so the portal's download (which checks who asks) is no
use to them. The link is instead signed (``TimestampSigner``, its own salt) over the
attachment's id and expires after NOTIFY_ATTACHMENT_LINK_MAX_AGE: whoever holds the
mail may download the file, as they could have opened it had it been attached. Only
attachments of public replies are ever linked or served.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.signing import BadSignature, Signer, TimestampSigner, b62_decode, b62_encode
from django.urls import reverse
from django.utils.translation import gettext

from sofacover.errors import DomainError
from tickets.models import Attachment

SALT = "notifications.mail-attachment"


class AttachmentLinkInvalid(DomainError):
    """Forged, altered or for no public attachment: shown like a link that never existed."""

    code = "attachment_link_invalid"
    http_status = 404


class AttachmentLinkExpired(DomainError):
    code = "attachment_link_expired"
    http_status = 410


class _Signer(TimestampSigner):
    """A TimestampSigner whose clock is the caller's ``now``."""

    def __init__(self, *, now: datetime) -> None:
        super().__init__(salt=SALT, algorithm="sha256")
        self._now = now

    def timestamp(self) -> str:
        return b62_encode(int(self._now.timestamp()))


def attachment_link(attachment: Attachment, *, now: datetime) -> str:
    """The absolute, signed download address of ``attachment``, valid from ``now`` for the link's lifetime."""
    token = _Signer(now=now).sign(attachment.uuid.hex)
    return settings.DESK_BASE_URL.rstrip("/") + reverse("mail-attachment", kwargs={"token": token})


def attachment_from_link(token: str, *, now: datetime) -> Attachment:
    """The attachment a mail's link names, if the link is genuine and unexpired.

    :raises AttachmentLinkInvalid: forged, altered, or not an attachment of a public reply (404)
    :raises AttachmentLinkExpired: older than NOTIFY_ATTACHMENT_LINK_MAX_AGE (410)
    """
    try:
        # Signer.unsign checks the signature over "value:timestamp"; the age is checked against ``now``.
        value, stamp = Signer.unsign(_Signer(now=now), token).rsplit(":", 1)
        signed_at = b62_decode(stamp)
    except (BadSignature, ValueError) as exc:
        raise AttachmentLinkInvalid(gettext("This link is not valid.")) from exc
    # The value is ours (the signature holds): an attachment's uuid as hex.
    attachment = Attachment.objects.filter(uuid=value, message__internal=False).first()
    if attachment is None:
        raise AttachmentLinkInvalid(gettext("This link is not valid."))
    if now.timestamp() - signed_at > settings.NOTIFY_ATTACHMENT_LINK_MAX_AGE.total_seconds():
        raise AttachmentLinkExpired(gettext("This link has expired: ask us for the file by replying to the mail."))
    return attachment
