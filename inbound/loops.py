"""What kind of mail this is, for loop and abuse protection: pure functions of a parsed message.

- ``is_bounce``: a delivery status notification, or a mailer daemon's failure notice;
- ``is_own``: the desk's own mail come back (its address, or its X-Loop header): a loop, never a ticket;
- ``no_auto_reply_reason``: mail the desk must never answer automatically (RFC 3834: Auto-Submitted,
  Precedence bulk/junk/list, mailing lists, X-Auto-Response-Suppress, an empty return path,
  mailer-daemon and no-reply senders, the desk's own addresses).
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from django.conf import settings

from .parsing import ParsedMail

MAILER_LOCAL_PARTS = {
    "mailer-daemon",
    "postmaster",
    "bounce",
    "bounces",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "auto-reply",
    "autoreply",
}
BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed)|returned mail|failure notice|mail delivery failed", re.I
)


def desk_addresses() -> set[str]:
    """The desk's own addresses: MAIL_DESK_ADDRESSES and the From of its outbound mail."""
    own = {address.strip().lower() for address in settings.MAIL_DESK_ADDRESSES}
    own.add(parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower())
    return {address for address in own if address}


def _local_part(address: str) -> str:
    return address.rsplit("@", 1)[0]


def is_mailer(address: str) -> bool:
    local = _local_part(address)
    return local in MAILER_LOCAL_PARTS or local.startswith(("bounce+", "bounces+", "bounce-", "owner-"))


def is_bounce(mail: ParsedMail) -> bool:
    if mail.is_report:
        return True
    daemon = _local_part(mail.sender) in {"mailer-daemon", "postmaster"} or mail.return_path == ""
    return daemon and bool(BOUNCE_SUBJECT.search(mail.subject))


def is_own(mail: ParsedMail) -> bool:
    return mail.sender in desk_addresses() or settings.NOTIFY_X_LOOP.lower() in mail.x_loop


def no_auto_reply_reason(mail: ParsedMail) -> str | None:
    """Why the desk must not answer this mail automatically; None when it may."""
    if mail.auto_submitted and mail.auto_submitted != "no":
        return f"Auto-Submitted: {mail.auto_submitted}"[:100]
    if mail.precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {mail.precedence}"
    if mail.is_list:
        return "sent through a mailing list"
    if mail.auto_response_suppressed:
        return "X-Auto-Response-Suppress"
    if mail.return_path == "":
        return "an empty return path (a bounce)"
    if is_mailer(mail.sender):
        return "a mailer or no-reply address"
    if mail.sender in desk_addresses():
        return "the desk's own address"
    return None
