"""Fifty-odd malformed and hostile messages over real SMTP: none crashes the gateway, none is lost
silently (each is stored, or refused with an SMTP error, and logged), none leaks."""

from __future__ import annotations

import logging

import pytest

from inbound.models import InboundMail
from support import usecases
from tests.tickets.factories import T0, make_user
from tickets.models import Attachment, Message, Ticket

from .conftest import smtp_send
from .hostile import REFUSED, STORED, cases
from .mails import compose

# What must never reach a page: the payloads of the cases, unescaped.
PAYLOADS = (
    "<script>alert",
    "<script>x()",
    "onerror=",
    "onload=",
    "onmouseover=",
    "javascript:",
    "<iframe",
    "<svg",
    "<meta http-equiv",
)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_hostile_mail_is_stored_or_refused_logged_and_never_leaks(gateway, client, caplog):
    bob = make_user("bob@example.com")
    victim = usecases.file_ticket(requester=bob, subject="Bob's order", description="private", now=T0)
    reference = victim.reference or ""
    victim_thread = f"{reference.lower()}@desk.sofacoverpro.com"
    corpus = cases()
    assert len(corpus) >= 50

    outcomes = {}
    with caplog.at_level(logging.INFO):
        for case in corpus:
            raw = case.raw.replace(b"$victim_thread", victim_thread.encode())
            raw = raw.replace(b"$victim", reference.encode())
            stored_before, logged_before = InboundMail.objects.count(), len(caplog.records)
            code, _ = smtp_send(gateway, raw, mail_from="mallory@example.net")
            stored = InboundMail.objects.count() - stored_before
            logged = [r.getMessage() for r in caplog.records[logged_before:] if r.name.startswith("inbound")]
            outcomes[case.name] = (code, stored)
            assert logged, f"{case.name}: nothing logged"
            if case.expected == STORED:
                assert (code, stored) == (250, 1), f"{case.name}: {code}, {stored} stored"
            else:
                assert case.expected == REFUSED
                assert code in {500, 550, 552, 554}, f"{case.name}: answered {code}"
                assert stored == 0, f"{case.name}: stored"

    # The gateway still takes ordinary mail.
    assert smtp_send(gateway, compose(sender="bob@example.com", subject="still there"))[0] == 250

    # The forged References did not reach Bob's ticket.
    assert victim.messages.count() == 0
    assert Ticket.objects.filter(requester=bob).count() == 2

    # Attachments: nothing served as HTML, no path or control character in a name, the bombs never unpacked.
    names = list(Attachment.objects.values_list("filename", "content_type"))
    assert not [n for n, t in names if "/" in n or "\\" in n or "\u202e" in n or t == "text/html"]
    assert ("report.zip", "application/zip") in names
    assert Attachment.objects.filter(filename="report.zip").get().size < 1024 * 1024

    # No text the desk stores holds a NUL; no page shows a payload unescaped.
    for text in [
        *Message.objects.values_list("body", flat=True),
        *Ticket.objects.values_list("description", flat=True),
    ]:
        assert "\x00" not in text
    mallory = Ticket.objects.filter(requester__username="mallory@example.net").select_related("requester")[0].requester
    mallory.is_active = True
    mallory.save()
    client.force_login(mallory)
    for ticket in Ticket.objects.filter(requester=mallory):
        page = client.get(f"/tickets/{ticket.reference}/")
        assert page.status_code == 200
        html = page.content.decode()
        leaked = [payload for payload in PAYLOADS if payload in html]
        assert not leaked, f"{ticket.subject}: {leaked}"
    assert client.get(f"/tickets/{victim.reference}/").status_code == 404
