"""Every change the gateway makes: the inbound record (once per Message-ID), bounces, the automatic-mail
ledger, customers found or created for a sender or a caller, and what of a mail goes on the ticket.

Each takes ``now`` from its caller; support.usecases.receive_email calls them in order, in one transaction.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from accounts import services as account_services
from sofacover.errors import DomainError
from tickets import permissions
from tickets import selectors as ticket_selectors
from tickets.models import Message, Ticket
from tickets.uploads import CheckedUpload, check_upload, clean_filename

from . import selectors, text
from .models import AutoReply, CallerPhone, InboundMail, MailAddress
from .parsing import MailRejected, ParsedMail

logger = logging.getLogger(__name__)
Outcome = InboundMail.Outcome
# Ticket descriptions hold at most this much (tickets.models.Ticket.description).
BODY_LIMIT = 20_000
ORIGINAL_NAME = "original-message.eml"


class UnknownSender(MailRejected):
    """MAIL_UNKNOWN_SENDERS is "refuse" and nobody at the desk has this address."""

    code = "unknown_sender"
    smtp_reply = "550 5.7.1 This address is not known to the support desk; please sign up at the portal first"


@dataclass(frozen=True)
class Receipt:
    """What the gateway did with one message: the doors answer and log from it."""

    outcome: str
    message_id: str
    ticket_reference: str = ""
    duplicate: bool = False
    note: str = ""

    def __str__(self) -> str:
        what = "duplicate of an earlier delivery" if self.duplicate else Outcome(self.outcome).label.lower()
        where = f" {self.ticket_reference}" if self.ticket_reference else ""
        return f"{self.message_id}: {what}{where}{f' ({self.note})' if self.note else ''}"


# --- the record ---------------------------------------------------------------------------------


@transaction.atomic(savepoint=False)
def inbound_claim(*, mail: ParsedMail, door: str, now: datetime) -> InboundMail | None:
    """Write the record of ``mail`` first, under its unique Message-ID; None if it is already stored.

    An insert that does nothing on a conflict (ON CONFLICT DO NOTHING), then a read of the row:
    ours if it carries our uuid. A second delivery racing this one waits on the unique index
    until this transaction ends, then finds the row: the same message is stored once however
    many times it arrives.
    """
    record = InboundMail(
        message_id=mail.message_id,
        door=door,
        sender=mail.sender,
        subject=mail.subject[:200],
        size=len(mail.raw),
        received_at=now,
        outcome=Outcome.IGNORED,
    )
    InboundMail.objects.bulk_create([record], ignore_conflicts=True)
    stored = InboundMail.objects.filter(message_id=mail.message_id).first()
    return stored if stored is not None and stored.uuid == record.uuid else None


def inbound_duplicate(*, mail: ParsedMail) -> Receipt:
    earlier = InboundMail.objects.select_related("ticket").filter(message_id=mail.message_id).first()
    return Receipt(
        outcome=earlier.outcome if earlier else Outcome.IGNORED,
        message_id=mail.message_id,
        ticket_reference=(earlier.ticket.reference or "") if earlier and earlier.ticket else "",
        duplicate=True,
    )


def inbound_settle(
    record: InboundMail,
    *,
    mail: ParsedMail,
    outcome: str,
    note: str = "",
    ticket: Ticket | None = None,
    message: Message | None = None,
    follow_up_of: Ticket | None = None,
    auto_replied: bool = False,
) -> Receipt:
    """Record what became of the mail; one that became no ticket message keeps its original here."""
    record.outcome, record.note = outcome, note[:500]
    record.ticket, record.stored_message, record.follow_up_of = ticket, message, follow_up_of
    record.auto_replied = auto_replied
    fields = ["outcome", "note", "ticket", "stored_message", "follow_up_of", "auto_replied"]
    if outcome not in (Outcome.OPENED, Outcome.REPLIED, Outcome.FOLLOW_UP):
        record.raw.save(f"{record.uuid.hex}.eml", ContentFile(mail.raw), save=False)
        fields.append("raw")
    record.save(update_fields=fields)
    reference = (ticket.reference or "") if ticket else ""
    receipt = Receipt(outcome=outcome, message_id=mail.message_id, ticket_reference=reference, note=note)
    logger.info("inbound mail from %s: %s", mail.sender or "<>", receipt)
    return receipt


# --- bounces and the automatic-mail ledger ------------------------------------------------------------


def _address_locked(address: str) -> MailAddress:
    """The address's row, created if new, locked until the transaction ends (no savepoint: a plain
    insert that does nothing on a conflict)."""
    address = address.strip().lower()[:254]
    MailAddress.objects.bulk_create([MailAddress(address=address)], ignore_conflicts=True)
    return MailAddress.objects.select_for_update().get(address=address)


@transaction.atomic
def bounce_record(*, mail: ParsedMail, sent_to: Collection[str], now: datetime) -> tuple[list[str], str]:
    """A delivery report: mark each permanently failed recipient undeliverable. Returns them and a note.

    ``sent_to``: the addresses the desk's own mail among ``mail.returned_ids`` went to, as the
    outbox that sent it says (support.usecases.receive_email asks notifications: this app does
    not import it). Only those are marked: a report that returns no mail the desk sent (a made-up
    Message-ID, even on the desk's domain), or names a recipient that mail did not go to, marks
    nothing, so a forged report cannot silence an address.
    """
    failed = [report for report in mail.reports if report.permanent]
    if not failed:
        return [], "no permanent failure reported" if mail.is_report else "a failure notice without a report"
    if not sent_to:
        return [], "the report returns no mail the desk sent: nothing marked"
    wanted = {address.strip().lower() for address in sent_to}
    marked, other = [], []
    for report in failed:
        if report.recipient not in wanted:
            other.append(report.recipient)
            continue
        row = _address_locked(report.recipient)
        if row.undeliverable_at is None:
            row.undeliverable_at = now
        row.bounce_status, row.bounce_reason = report.status, report.diagnostic
        row.save(update_fields=["undeliverable_at", "bounce_status", "bounce_reason"])
        marked.append(row.address)
    notes = [f"undeliverable: {', '.join(marked)}"] if marked else []
    if other:
        notes.append(f"not marked, the desk's mail did not go to: {', '.join(other[:5])}")
    return marked, "; ".join(notes)


@transaction.atomic
def address_mark_deliverable(*, address: str) -> None:
    """An agent (the console) clears a bounce: mail to the address goes out again."""
    MailAddress.objects.filter(address=address.strip().lower()).update(
        undeliverable_at=None, bounce_status="", bounce_reason=""
    )


@transaction.atomic(savepoint=False)
def auto_reply_allow(*, address: str, now: datetime) -> bool:
    """May the desk answer ``address`` automatically now? If so, count the answer.

    At most MAIL_AUTO_REPLIES_PER_HOUR in any hour, never to an undeliverable address. The
    address's row is locked while counting, so two mails arriving together cannot both take
    the last one.
    """
    address = address.strip().lower()[:254]
    # An upsert: creates the row, or takes the existing one's lock (ON CONFLICT DO UPDATE), in one statement.
    MailAddress.objects.bulk_create(
        [MailAddress(address=address)], update_conflicts=True, unique_fields=["address"], update_fields=["address"]
    )
    # The last hour's answers, counted on the (address, at) index: a join counting with a filter
    # would read every answer the address was ever sent, a cost growing with each mail.
    recent = (
        AutoReply.objects.filter(address=OuterRef("pk"), at__gt=now - timedelta(hours=1), at__lte=now)
        .order_by()
        .values("address")
        .annotate(count=Count("pk"))
        .values("count")
    )
    row = MailAddress.objects.annotate(sent=Coalesce(Subquery(recent), 0)).get(address=address)
    if row.undeliverable_at is not None:
        return False
    if row.sent >= settings.MAIL_AUTO_REPLIES_PER_HOUR:
        logger.warning("automatic mail to %s held back: %d in the last hour", row.address, row.sent)
        return False
    AutoReply.objects.create(address=row, at=now)
    return True


# --- who wrote it ------------------------------------------------------------------------------------


@transaction.atomic
def customer_for_sender(*, address: str, name: str) -> User:
    """The desk user with this address, or a new customer account the sender can activate later.

    The account is inactive with no password: signing up at the portal with the address sets one
    and sends the activation link (tickets.services.customer_sign_up).

    :raises UnknownSender: if MAIL_UNKNOWN_SENDERS is "refuse" and nobody has the address
    """
    user = selectors.user_for_address(address)
    if user is not None:
        return user
    if settings.MAIL_UNKNOWN_SENDERS != "create":
        raise UnknownSender(f"{address} is not known to the desk")
    try:
        with transaction.atomic():
            return account_services.user_create(
                email=address, password=None, role="customer", first_name=name[:150], is_active=False
            )
    except account_services.UserExists:  # created meanwhile by another mail
        user = selectors.user_for_address(address)
        assert user is not None
        return user


def sender_is_on(ticket: Ticket, user: User | None, *, address: str) -> bool:
    """May mail from ``address`` (``user``, when the desk knows them) go on ``ticket``: its
    requester, someone on its CC list (whether or not they have an account yet), or the desk."""
    if user is not None and (ticket.requester_id == user.pk or permissions.can_work_ticket(user)):
        return True
    return ticket_selectors.is_copied(ticket=ticket, email=address)


class CallerUnknown(DomainError):
    code = "caller_unknown"


@transaction.atomic
def customer_for_caller(*, email: str = "", phone: str = "", name: str = "") -> User:
    """The customer an agent is on the phone with: by email (created if new), or without one by phone.

    A new number is kept for the customer, so the next call finds them by it.

    :raises CallerUnknown: no email, and nobody has the number
    :raises DomainError: the number is not in international format, or is another customer's
    """
    email, phone = email.strip().lower(), "".join(phone.split())
    found = selectors.user_for_address(email) if email else selectors.customer_for_phone(phone) if phone else None
    if found is None and not email:
        raise CallerUnknown(gettext("Nobody has this number yet: give the caller's email to create their account."))
    user = found or account_services.user_create(
        email=email, password=None, role="customer", first_name=name.strip()[:150], is_active=False
    )
    if phone:
        owner = selectors.customer_for_phone(phone)
        if owner is not None and owner.pk != user.pk:
            raise DomainError(gettext("%(phone)s is another customer's number.") % {"phone": phone}, field="phone")
        if owner is None and not CallerPhone.objects.filter(user=user).exists():
            row = CallerPhone(user=user, number=phone)
            try:
                row.clean_fields(exclude=["user"])
            except ValidationError as exc:
                raise DomainError(exc.message_dict["number"][0], field="phone") from exc
            row.save()
    return user


# --- what goes on the ticket -----------------------------------------------------------------------


@dataclass(frozen=True)
class MailContent:
    body: str
    attachments: list[CheckedUpload]
    refused: list[str]


def _original(mail: ParsedMail) -> CheckedUpload:
    """The message as received, kept as a download beside what was stored of it."""
    return CheckedUpload(
        file=SimpleUploadedFile(ORIGINAL_NAME, mail.raw, content_type="message/rfc822"),
        filename=ORIGINAL_NAME,
        content_type="message/rfc822",
        size=len(mail.raw),
        sha256=hashlib.sha256(mail.raw).hexdigest(),
    )


def mail_content(*, mail: ParsedMail, new_ticket: bool) -> MailContent:
    """The text to store (quoted history and signature cut; for a new ticket, the whole text if that
    leaves nothing), the attachments that pass the upload checks, and the original as .eml."""
    body = text.strip_reply(mail.text)
    if not body and new_ticket:
        body = mail.text.strip()
    attachments: list[CheckedUpload] = []
    refused: list[str] = []
    room = settings.ATTACHMENT_MAX_FILES - 1  # one is the original
    for item in mail.attachments:
        name = clean_filename(item.filename)
        if len(attachments) >= room:
            refused.append(f"“{name}”: at most {room} attachments per message")
            continue
        try:
            attachments.append(check_upload(SimpleUploadedFile(name, item.data, content_type=item.content_type)))
        except ValidationError as exc:
            refused.append(exc.messages[0])
    if len(body) > BODY_LIMIT:
        body = body[: BODY_LIMIT - 200].rstrip() + "\n\n[Cut here: the whole message is in the attached .eml.]"
    if refused:
        notes = "\n".join(f"[Attachment not accepted: {reason}]" for reason in refused)
        body = f"{body}\n\n{notes}".strip()[:BODY_LIMIT]
    return MailContent(body=body, attachments=[*attachments, _original(mail)], refused=refused)


def ticket_subject(mail: ParsedMail) -> str:
    return mail.subject.strip()[:200] or "(no subject)"
