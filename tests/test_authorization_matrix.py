"""Every route x every role → the status it must answer.

The matrix enumerates the URL patterns of the project (all but the admin,
which has its own tests): a new route without a row here fails
``test_every_route_has_a_row``. The world (users, tickets, attachments) is built
once for the module inside a transaction that ends rolled back, and every cell
runs in a savepoint of its own, rolled back after it, with a fresh copy of the
world whose lazily made data (articles, incidents, monitors…) is made again: one
cell's change never decides another's answer, and the 765 cells do not each
file, answer and resolve tickets through the use cases first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from support import usecases
from tests.tickets.factories import T0, make_user
from tickets import uploads
from tickets.models import Ticket

ROLES = ("anonymous", "customer_a", "customer_b", "agent", "manager")


@dataclass
class World:
    users: dict
    ticket: Ticket
    resolved: Ticket
    public_attachment: str
    internal_attachment: str


def build_world() -> World:
    a = make_user("a@example.com", "customer")
    b = make_user("b@example.com", "customer")
    agent = make_user("agent@sofacoverpro.com", "agent", tier=1)
    users = {
        "anonymous": None,
        "customer_a": a,
        "customer_b": b,
        "agent": agent,
        "manager": make_user("boss@sofacoverpro.com", "manager"),
    }
    ticket = usecases.file_ticket(requester=a, subject="Zip broke", description="d", now=T0)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    public = usecases.reply(
        ticket=ticket,
        author=a,
        body="photo",
        now=T0,
        attachments=uploads.check_uploads([SimpleUploadedFile("zip.png", png)]),
    )
    note = usecases.reply(
        ticket=ticket,
        author=agent,
        body="internal",
        internal=True,
        now=T0,
        attachments=uploads.check_uploads([SimpleUploadedFile("trace.txt", b"stack trace\n")]),
    )
    usecases.cc_add(ticket=ticket, email="partner@example.net", actor=agent, now=T0)
    resolved = usecases.file_ticket(requester=a, subject="Refund", description="d", now=T0)
    usecases.resolve(ticket=resolved, actor=agent, now=T0)
    return World(
        users=users,
        ticket=ticket,
        resolved=resolved,
        public_attachment=str(public.attachments.get().uuid),
        internal_attachment=str(note.attachments.get().uuid),
    )


@dataclass
class Cell:
    method: str
    url: Callable[[World], str]
    expect: dict[str, int]
    data: dict | Callable[[World], dict] = field(default_factory=dict)
    json: bool = False
    label: str = ""


def every(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def api(anonymous=401, a=200, b=404, agent=200, manager=200) -> dict[str, int]:
    return {"anonymous": anonymous, "customer_a": a, "customer_b": b, "agent": agent, "manager": manager}


def portal(anonymous=302, a=200, b=404, agent=200, manager=200) -> dict[str, int]:
    return api(anonymous, a, b, agent, manager)


# --- knowledge base (help centre and console actions): data made once per world, on first use ---


def _kb(world: World) -> dict:
    from knowledge import services as kb_services
    from knowledge.models import Article, TicketRunbook

    kb = getattr(world, "_kb", None)
    if kb is None:
        faq = kb_services.article_create(
            actor=None, title="Matrix FAQ", body="Public.", slug="matrix-faq", status=Article.Status.PUBLISHED, now=T0
        )
        runbook = kb_services.article_create(
            actor=None,
            title="Matrix runbook",
            body="- [ ] One\n- [ ] Two\n",
            slug="matrix-runbook",
            audience=Article.Audience.INTERNAL,
            status=Article.Status.PUBLISHED,
            now=T0,
        )
        attached = TicketRunbook.objects.create(ticket=world.ticket, article=runbook, attached_at=T0)
        kb = world._kb = {"faq": faq, "runbook": runbook, "attached": attached}  # type: ignore[attr-defined]
    return kb


# --- incidents (API): made once per world, on first use -----------------------------------------


def _incident(world: World):
    """An open P2 incident (no resolution texts needed) with one linked ticket and one action."""
    incident = getattr(world, "_incident", None)
    if incident is None:
        incident = usecases.declare_incident(
            declared_by=world.users["agent"],
            now=T0,
            severity="P2",
            title="Matrix incident",
            impact="x",
            actions=["Look"],
        )
        usecases.incident_link(incident=incident, tickets=[world.ticket], by=world.users["agent"], now=T0)
        world._incident = incident  # type: ignore[attr-defined]
    return incident


def inc(world: World, suffix: str = "") -> str:
    return f"/api/v1/incidents/{_incident(world).reference}/{suffix}"


def staff(ok: int) -> dict[str, int]:
    """The incidents API: agents and managers; customers are told nothing is here."""
    return api(a=404, b=404, agent=ok, manager=ok)


def _subscriber(world: World):
    """A status page subscriber, pending, made once per world."""
    from incidents.models import Subscriber

    subscriber = getattr(world, "_subscriber", None)
    if subscriber is None:
        subscriber = world._subscriber = Subscriber.objects.create(email="watcher@example.com", created_at=T0)  # type: ignore[attr-defined]
    return subscriber


def _monitor(world: World):
    """An error-rate monitor (it has a feed), made once per world."""
    from monitors import services as monitor_services

    monitor = getattr(world, "_monitor", None)
    if monitor is None:
        monitor = world._monitor = monitor_services.monitor_create(  # type: ignore[attr-defined]
            name="Matrix errors", kind="error_rate", now=T0
        )
    return monitor


M = "/api/v1/monitors/"
# A public address (an IP literal resolves to itself, no network needed): the SSRF guard lets it through.
PUBLIC_URL = "http://93.184.215.14/"


def console(anonymous=302, a=403, b=403, agent=302, manager=302) -> dict[str, int]:
    return api(anonymous, a, b, agent, manager)


C = "/console/tickets/"


T = "/api/v1/tickets/"
KB = "/api/v1/articles/"
# Seeded by knowledge/migrations/0004_seed_articles.py.
KB_PUBLIC, KB_INTERNAL = "track-my-order", "runbook-payment-processing"

MATRIX: dict[str, list[Cell]] = {
    # --- API ---
    "api-token": [
        Cell(
            "POST",
            lambda w: "/api/v1/auth/token/",
            every(400),
            {"username": "a@example.com", "password": "wrong"},
            json=True,
        )
    ],
    "ticket-list": [
        Cell("GET", lambda w: T, api(b=200)),
        Cell(
            "POST",
            lambda w: T,
            api(a=201, b=201, agent=400, manager=400),
            {"subject": "s", "description": "d"},
            json=True,
            label="for myself",
        ),
        Cell(
            "POST",
            lambda w: T,
            api(a=400, b=400, agent=201, manager=201),
            {"subject": "s", "description": "d", "requester": "a@example.com"},
            json=True,
            label="for a customer",
        ),
    ],
    "ticket-detail": [
        Cell("GET", lambda w: f"{T}{w.ticket.reference}/", api()),
        Cell("PATCH", lambda w: f"{T}{w.ticket.reference}/", api(a=403), {"priority": "P1"}, json=True),
        Cell(
            "PUT",
            lambda w: f"{T}{w.ticket.reference}/",
            api(a=405, b=405, agent=405, manager=405),
            {"priority": "P1"},
            json=True,
        ),
        Cell("DELETE", lambda w: f"{T}{w.ticket.reference}/", api(a=405, b=405, agent=405, manager=405)),
    ],
    "ticket-assign": [
        Cell(
            "POST",
            lambda w: f"{T}{w.ticket.reference}/assign/",
            api(a=403),
            {"assignee": "agent@sofacoverpro.com"},
            json=True,
        ),
    ],
    "ticket-resolve": [Cell("POST", lambda w: f"{T}{w.ticket.reference}/resolve/", api())],
    "ticket-reopen": [Cell("POST", lambda w: f"{T}{w.resolved.reference}/reopen/", api())],
    "ticket-timeline": [Cell("GET", lambda w: f"{T}{w.ticket.reference}/timeline/", api())],
    # Who is copied on the replies: the desk's to manage (the requester is told 403, others 404).
    "ticket-cc": [
        Cell("GET", lambda w: f"{T}{w.ticket.reference}/cc/", api(a=403)),
        Cell(
            "POST",
            lambda w: f"{T}{w.ticket.reference}/cc/",
            api(a=403, agent=201, manager=201),
            {"email": "neighbour@example.org"},
            json=True,
        ),
    ],
    "ticket-cc-remove": [
        Cell("DELETE", lambda w: f"{T}{w.ticket.reference}/cc/partner@example.net/", api(a=403, agent=204, manager=204))
    ],
    # A reply's attachment through the signed link in a mail: no sign-in; a forged link is a 404 for all.
    "mail-attachment": [Cell("GET", lambda w: "/mail/attachments/not-a-token/", every(404))],
    "api-attachment": [
        Cell("GET", lambda w: f"/api/v1/attachments/{w.public_attachment}/", api(), label="public reply"),
        Cell("GET", lambda w: f"/api/v1/attachments/{w.internal_attachment}/", api(a=404), label="internal note"),
    ],
    "ticket-messages": [
        Cell("GET", lambda w: f"{T}{w.ticket.reference}/messages/", api()),
        Cell(
            "POST",
            lambda w: f"{T}{w.ticket.reference}/messages/",
            api(a=201, agent=201, manager=201),
            {"body": "hello"},
            json=True,
        ),
        Cell(
            "POST",
            lambda w: f"{T}{w.ticket.reference}/messages/",
            api(a=403, agent=201, manager=201),
            {"body": "psst", "internal": True},
            json=True,
            label="internal note",
        ),
    ],
    "sla-policy-list": [
        Cell("GET", lambda w: "/api/v1/sla/policies/", api(b=200)),
        Cell("POST", lambda w: "/api/v1/sla/policies/", api(a=405, b=405, agent=405, manager=405), json=True),
    ],
    "ticket-escalate": [
        Cell(
            "POST",
            lambda w: f"{T}{w.ticket.reference}/escalate/",
            api(a=201, agent=201, manager=201),
            {"reason": "customer_request", "note": "please"},
            json=True,
            label="customer request",
        ),
        Cell(
            "POST",
            lambda w: f"{T}{w.ticket.reference}/escalate/",
            api(a=403, agent=201, manager=201),
            {"reason": "technical_complexity"},
            json=True,
            label="agent reason",
        ),
        Cell(
            "POST",
            lambda w: f"{T}{w.resolved.reference}/escalate/",
            api(a=409, agent=409, manager=409),
            {"reason": "customer_request"},
            json=True,
            label="resolved ticket",
        ),
    ],
    # --- knowledge base API (seeded articles: a public FAQ and an internal runbook) ---
    "article-list": [
        Cell("GET", lambda w: KB, every(200)),
        Cell(
            "GET",
            lambda w: f"{KB}?audience=internal",
            api(anonymous=400, a=400, b=400),
            label="internal filter",
        ),
        Cell(
            "POST",
            lambda w: KB,
            api(a=403, b=403, agent=201, manager=201),
            {"title": "New FAQ", "body": "Answer.", "status": "published"},
            json=True,
        ),
    ],
    "article-detail": [
        Cell("GET", lambda w: f"{KB}{KB_PUBLIC}/", every(200), label="public"),
        Cell("GET", lambda w: f"{KB}{KB_INTERNAL}/", api(anonymous=404, a=404, b=404), label="internal"),
        Cell("PATCH", lambda w: f"{KB}{KB_PUBLIC}/", api(a=403, b=403), {"title": "Edited"}, json=True),
        Cell("DELETE", lambda w: f"{KB}{KB_PUBLIC}/", every(405)),
    ],
    "article-suggest": [
        Cell("GET", lambda w: f"{KB}suggest/?q=track my order", every(200)),
        Cell("GET", lambda w: f"{KB}suggest/", every(400), label="no q"),
    ],
    "article-vote": [
        Cell(
            "POST",
            lambda w: f"{KB}{KB_PUBLIC}/vote/",
            api(a=201, b=201, agent=201, manager=201),
            {"helpful": True},
            json=True,
        ),
        Cell(
            "POST",
            lambda w: f"{KB}{KB_INTERNAL}/vote/",
            api(a=404, b=404, agent=201, manager=201),
            {"helpful": True},
            json=True,
            label="internal",
        ),
    ],
    "article-revisions": [
        Cell("GET", lambda w: f"{KB}{KB_PUBLIC}/revisions/", api(a=403, b=403), label="public"),
        Cell("GET", lambda w: f"{KB}{KB_INTERNAL}/revisions/", api(a=404, b=404), label="internal"),
    ],
    # --- incidents API: the desk's; customers get 404 (their view is the status page) ---
    "incident-list": [
        Cell("GET", lambda w: "/api/v1/incidents/", staff(200)),
        Cell(
            "POST",
            lambda w: "/api/v1/incidents/",
            staff(201),
            {"severity": "P3", "title": "Typo on the FAQ", "impact": "Cosmetic"},
            json=True,
        ),
    ],
    "incident-detail": [
        Cell("GET", lambda w: inc(w), staff(200)),
        Cell("PATCH", lambda w: inc(w), staff(200), {"expected_resolution": "Today"}, json=True),
        Cell("PUT", lambda w: inc(w), api(a=405, b=405, agent=405, manager=405), {"title": "x"}, json=True),
        Cell("DELETE", lambda w: inc(w), api(a=405, b=405, agent=405, manager=405)),
    ],
    "incident-updates": [Cell("POST", lambda w: inc(w, "updates/"), staff(201), {"body": "Still looking"}, json=True)],
    "incident-link": [
        Cell("POST", lambda w: inc(w, "link/"), staff(200), lambda w: {"tickets": [w.resolved.pk]}, json=True)
    ],
    "incident-unlink": [
        Cell("POST", lambda w: inc(w, "unlink/"), staff(200), lambda w: {"ticket": w.ticket.reference}, json=True)
    ],
    "incident-resolve": [Cell("POST", lambda w: inc(w, "resolve/"), staff(200), {}, json=True)],
    # The world's incident is open: staff are told to resolve it first (400 on status); customers, nothing here.
    "incident-review": [Cell("POST", lambda w: inc(w, "review/"), staff(400), {}, json=True, label="open")],
    "incident-actions": [Cell("POST", lambda w: inc(w, "actions/"), staff(201), {"text": "Check"}, json=True)],
    "incident-action": [
        Cell(
            "PATCH",
            lambda w: inc(w, f"actions/{_incident(w).actions.get().pk}/"),
            staff(200),
            {"done": True},
            json=True,
        )
    ],
    "incident-tickets": [Cell("GET", lambda w: inc(w, "tickets/"), staff(200))],
    "incident-timeline": [Cell("GET", lambda w: inc(w, "timeline/"), staff(200))],
    "api-schema": [Cell("GET", lambda w: "/api/v1/schema/", every(200))],
    "api-docs": [Cell("GET", lambda w: "/api/v1/docs/", every(200))],
    # Public, for probes and an uptime monitor (tests/support/test_health.py): liveness answers while the
    # process does; readiness is 503 as no SLA sweep has run in this world.
    "healthz": [Cell("GET", lambda w: "/healthz/", every(200))],
    "readyz": [Cell("GET", lambda w: "/readyz/", every(503))],
    # A bearer token or an allowed address, not a login (tests/support/test_metrics.py): the test client
    # comes from loopback, which is allowed by default.
    "metrics": [Cell("GET", lambda w: "/metrics", every(200))],
    # Signed by the provider, not by a login (tests/inbound/test_doors.py::TestWebhook); off without a key.
    "mail-inbound-mailgun": [
        Cell("POST", lambda w: "/api/v1/mail/inbound/mailgun/", every(404), label="off"),
        Cell("GET", lambda w: "/api/v1/mail/inbound/mailgun/", every(405)),
    ],
    # --- live chat: the widget's doors (public; no agent is available in this world: closed) ---
    "chat:status": [Cell("GET", lambda w: "/chat/status/", every(200))],
    "chat:start": [Cell("POST", lambda w: "/chat/start/", every(409), {"body": "hi"})],
    "chat:leave": [Cell("POST", lambda w: "/chat/leave/", every(400), {"body": ""})],
    # the console's chat pages: the console login first, then agents and managers only
    "chat-console:queue": [
        Cell("GET", lambda w: "/console/chat/", portal(anonymous=302, a=302, b=302, agent=200, manager=200))
    ],
    "chat-console:chat": [
        Cell("GET", lambda w: "/console/chat/999999/", portal(anonymous=302, a=302, b=302, agent=404, manager=404))
    ],
    "chat-console:accept": [
        Cell(
            "POST",
            lambda w: "/console/chat/999999/accept/",
            portal(anonymous=302, a=302, b=302, agent=404, manager=404),
        )
    ],
    # --- portal ---
    # The language switcher: Django's set_language; a GET changes nothing and goes back to a page.
    "set_language": [Cell("GET", lambda w: "/i18n/setlang/", every(302))],
    "portal:preferences": [Cell("GET", lambda w: "/account/preferences/", portal(b=200))],
    # Nobody in this world belongs to a shared organisation: the pages are not there for anyone signed in.
    "portal:organisation-tickets": [
        Cell("GET", lambda w: "/organisation/tickets/", portal(a=404, b=404, agent=404, manager=404))
    ],
    "portal:organisation-ticket": [
        Cell(
            "GET",
            lambda w: f"/organisation/tickets/{w.ticket.reference}/",
            portal(a=404, b=404, agent=404, manager=404),
        )
    ],
    "portal:home": [Cell("GET", lambda w: "/", every(200))],
    "portal:login": [Cell("GET", lambda w: "/login/", portal(anonymous=200, a=302, b=302, agent=302, manager=302))],
    # The console's login (the admin's view behind the login limiter): staff are sent on to the console.
    "console-login": [
        Cell("GET", lambda w: "/admin/login/", portal(anonymous=200, a=200, b=200, agent=302, manager=302)),
        Cell("POST", lambda w: "/admin/login/", every(200), {"username": "nobody@example.com", "password": "x"}),
    ],
    "portal:logout": [
        Cell("POST", lambda w: "/logout/", every(302)),
        Cell("GET", lambda w: "/logout/", every(405)),
    ],
    "portal:signup": [Cell("GET", lambda w: "/signup/", portal(anonymous=200, a=302, b=302, agent=302, manager=302))],
    "portal:signup-done": [Cell("GET", lambda w: "/signup/done/", every(200))],
    "portal:activate": [Cell("GET", lambda w: "/activate/Mg/not-a-token/", every(400))],
    "portal:password-reset": [Cell("GET", lambda w: "/password-reset/", every(200))],
    "portal:password-reset-done": [Cell("GET", lambda w: "/password-reset/done/", every(200))],
    "portal:password-reset-confirm": [Cell("GET", lambda w: "/password-reset/Mg/not-a-token/", every(200))],
    "portal:password-reset-complete": [Cell("GET", lambda w: "/password-reset/complete/", every(200))],
    "portal:ticket-list": [Cell("GET", lambda w: "/tickets/", portal(b=200))],
    "portal:ticket-new": [Cell("GET", lambda w: "/tickets/new/", portal(b=200))],
    "portal:ticket-detail": [Cell("GET", lambda w: f"/tickets/{w.ticket.reference}/", portal())],
    "portal:ticket-reply": [
        Cell(
            "POST",
            lambda w: f"/tickets/{w.ticket.reference}/reply/",
            portal(a=302, agent=302, manager=302),
            {"body": "hello"},
        ),
        Cell("GET", lambda w: f"/tickets/{w.ticket.reference}/reply/", every(405)),
    ],
    "portal:ticket-resolve": [
        Cell("POST", lambda w: f"/tickets/{w.ticket.reference}/resolve/", portal(a=302, agent=302, manager=302)),
        Cell("GET", lambda w: f"/tickets/{w.ticket.reference}/resolve/", every(405)),
    ],
    "portal:ticket-reopen": [
        Cell("POST", lambda w: f"/tickets/{w.resolved.reference}/reopen/", portal(a=302, agent=302, manager=302)),
    ],
    "portal-escalate": [
        Cell(
            "POST",
            lambda w: f"/tickets/{w.ticket.reference}/escalate/",
            portal(a=302, agent=302, manager=302),
            {"escalate-tier": "1", "escalate-note": "please"},
        ),
        Cell("GET", lambda w: f"/tickets/{w.ticket.reference}/escalate/", every(405)),
    ],
    "portal:attachment": [
        Cell("GET", lambda w: f"/attachments/{w.public_attachment}/", portal(), label="public reply"),
        Cell("GET", lambda w: f"/attachments/{w.internal_attachment}/", portal(a=404), label="internal note"),
    ],
    # --- satisfaction ---
    "ticket-rating": [
        Cell(
            "POST",
            lambda w: f"{T}{w.resolved.reference}/rating/",
            api(a=201, agent=403, manager=403),
            {"score": 5, "comment": "thanks"},
            json=True,
        ),
        Cell(
            "POST",
            lambda w: f"{T}{w.ticket.reference}/rating/",
            api(a=409, agent=403, manager=403),
            {"score": 5},
            json=True,
            label="open ticket",
        ),
        Cell(
            "POST",
            lambda w: f"{T}{w.resolved.reference}/rating/",
            api(a=400, agent=403, manager=403),
            {"score": 6},
            json=True,
            label="score out of range",
        ),
    ],
    "portal:ticket-rating": [
        Cell(
            "POST",
            lambda w: f"/tickets/{w.resolved.reference}/rating/",
            portal(a=302, agent=302, manager=302),
            {"score": "5"},
        ),
        Cell("GET", lambda w: f"/tickets/{w.resolved.reference}/rating/", every(405)),
    ],
    "portal:survey": [Cell("GET", lambda w: "/survey/not-a-token/", every(404))],
    # --- reports: managers only; customers are told nothing exists ---
    "reports:index": [Cell("GET", lambda w: "/reports/", portal(a=404, b=404, agent=403))],
    "reports:csv": [
        Cell("GET", lambda w: "/reports/sla.csv", portal(a=404, b=404, agent=403)),
        Cell("GET", lambda w: "/reports/offenders.csv?from=2026-01-01&to=2026-03-31", portal(a=404, b=404, agent=403)),
    ],
    "reports-sla": [Cell("GET", lambda w: "/api/v1/reports/sla/", api(a=404, agent=403))],
    "reports-satisfaction": [Cell("GET", lambda w: "/api/v1/reports/satisfaction/", api(a=404, agent=403))],
    "reports-summary": [Cell("GET", lambda w: "/api/v1/reports/summary/", api(a=404, agent=403))],
    # --- monitors: agents read, managers write; the feed takes the monitor's secret, not a session ---
    "monitor-list": [
        Cell("GET", lambda w: M, api(a=403, b=403)),
        Cell(
            "POST",
            lambda w: M,
            api(a=403, b=403, agent=403, manager=201),
            {"name": "Matrix home", "kind": "http", "url": PUBLIC_URL},
            json=True,
        ),
    ],
    "monitor-detail": [
        Cell("GET", lambda w: f"{M}{_monitor(w).pk}/", api(a=403, b=403)),
        Cell("PATCH", lambda w: f"{M}{_monitor(w).pk}/", api(a=403, b=403, agent=403), {"severity": "P2"}, json=True),
        Cell("DELETE", lambda w: f"{M}{_monitor(w).pk}/", api(a=403, b=403, agent=403, manager=204)),
    ],
    "monitor-results": [Cell("GET", lambda w: f"{M}{_monitor(w).pk}/results/", api(a=403, b=403))],
    "monitor-uptime": [Cell("GET", lambda w: f"{M}uptime/", api(a=403, b=403))],
    "monitor-events": [
        Cell("POST", lambda w: f"{M}{_monitor(w).pk}/events/", every(401), {"errors": 1}, json=True),
        Cell(
            "POST",
            lambda w: f"{M}{_monitor(w).pk}/events/?token={_monitor(w).token}",
            every(202),
            {"errors": 1},
            json=True,
            label="secret",
        ),
        Cell("GET", lambda w: f"{M}{_monitor(w).pk}/events/", every(405)),
    ],
    # --- knowledge base: help centre ---
    "kb:home": [Cell("GET", lambda w: "/kb/", every(200))],
    "kb:search": [Cell("GET", lambda w: "/kb/search/?q=matrix", every(200))],
    "kb:suggest": [Cell("GET", lambda w: "/kb/suggest/?q=matrix", every(200))],
    "kb:category": [Cell("GET", lambda w: "/kb/category/orders/", every(200))],
    "kb:article": [
        Cell("GET", lambda w: f"/kb/{_kb(w)['faq'].slug}/", every(200), label="public FAQ"),
        Cell("GET", lambda w: f"/kb/{_kb(w)['runbook'].slug}/", portal(anonymous=404, a=404), label="runbook"),
    ],
    "kb:vote": [
        Cell("POST", lambda w: f"/kb/{_kb(w)['faq'].slug}/vote/", every(302), {"helpful": "yes"}),
        Cell("GET", lambda w: f"/kb/{_kb(w)['faq'].slug}/vote/", every(405)),
        Cell(
            "POST",
            lambda w: f"/kb/{_kb(w)['runbook'].slug}/vote/",
            portal(anonymous=404, a=404, b=404, agent=302, manager=302),
            {"helpful": "yes"},
            label="runbook",
        ),
    ],
    "kb:suggestion-open": [
        Cell("POST", lambda w: f"/kb/{_kb(w)['faq'].slug}/open/", every(302), {"q": "matrix"}),
        Cell("GET", lambda w: f"/kb/{_kb(w)['faq'].slug}/open/", every(405)),
        Cell("POST", lambda w: f"/kb/{_kb(w)['runbook'].slug}/open/", every(404), label="runbook"),
    ],
    # --- the public status page: no sign-in, the same for everyone ---
    "status:page": [
        Cell("GET", lambda w: "/status/", every(200)),
        Cell("POST", lambda w: "/status/", every(405)),
    ],
    "status:feed": [Cell("GET", lambda w: "/status/feed.atom", every(200))],
    "status-api": [
        Cell("GET", lambda w: "/api/v1/status/", every(200)),
        Cell("POST", lambda w: "/api/v1/status/", every(405), json=True),
    ],
    # One answer whoever asks (tests/incidents/test_status_subscriptions.py).
    "status:subscribe": [
        Cell("POST", lambda w: "/status/subscribe/", every(302), {"email": "watcher@example.com"}),
        Cell("GET", lambda w: "/status/subscribe/", every(405)),
    ],
    "status:subscribe-done": [Cell("GET", lambda w: "/status/subscribe/done/", every(200))],
    # The token in the link is the key: an unknown one is a 404 for all.
    "status:confirm": [
        Cell("GET", lambda w: f"/status/confirm/{_subscriber(w).token}/", every(200)),
        Cell("POST", lambda w: "/status/confirm/00000000-0000-4000-8000-000000000000/", every(404), label="unknown"),
    ],
    "status:unsubscribe": [
        Cell("GET", lambda w: f"/status/unsubscribe/{_subscriber(w).token}/", every(200)),
        Cell("POST", lambda w: f"/status/unsubscribe/{_subscriber(w).token}/", every(200), label="one click"),
        Cell(
            "POST", lambda w: "/status/unsubscribe/00000000-0000-4000-8000-000000000000/", every(404), label="unknown"
        ),
    ],
    # --- knowledge base: console actions (agents) ---
    "kb-console:runbook-attach": [
        Cell(
            "POST",
            lambda w: f"{C}{w.ticket.reference}/runbooks/attach/",
            console(),
            lambda w: {"article": _kb(w)["runbook"].slug},
        ),
        Cell("GET", lambda w: f"{C}{w.ticket.reference}/runbooks/attach/", every(405)),
    ],
    "kb-console:runbook-step": [
        Cell(
            "POST",
            lambda w: f"{C}{w.ticket.reference}/runbooks/{_kb(w)['attached'].pk}/steps/1/",
            console(),
            {"done": "1"},
        ),
        Cell("GET", lambda w: f"{C}{w.ticket.reference}/runbooks/{_kb(w)['attached'].pk}/steps/1/", every(405)),
    ],
    "kb-console:cc-add": [
        Cell("POST", lambda w: f"{C}{w.ticket.reference}/cc/add/", console(), {"email": "neighbour@example.org"}),
        Cell("GET", lambda w: f"{C}{w.ticket.reference}/cc/add/", every(405)),
    ],
    "kb-console:cc-remove": [
        Cell("POST", lambda w: f"{C}{w.ticket.reference}/cc/remove/", console(), {"email": "partner@example.net"}),
        Cell("GET", lambda w: f"{C}{w.ticket.reference}/cc/remove/", every(405)),
    ],
    "kb-console:template-reply": [
        Cell(
            "POST",
            lambda w: f"{C}{w.ticket.reference}/template-reply/",
            console(),
            lambda w: {"faq": _kb(w)["faq"].slug, "body": "see this"},
        ),
        Cell("GET", lambda w: f"{C}{w.ticket.reference}/template-reply/", every(405)),
    ],
}


def _route_names(patterns, namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue
            yield from _route_names(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            if pattern.name is None:
                yield f"{namespace}:<unnamed {pattern.pattern}>" if namespace else f"<unnamed {pattern.pattern}>"
            else:
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_route_has_a_row():
    routes = set(_route_names(get_resolver().url_patterns))
    missing = routes - set(MATRIX)
    assert not missing, f"routes without a row in the authorization matrix: {sorted(missing)}"
    stale = set(MATRIX) - routes
    assert not stale, f"rows for routes that no longer exist: {sorted(stale)}"


CASES = [
    pytest.param(name, cell, role, id=f"{name}-{cell.method}{'-' + cell.label if cell.label else ''}-{role}")
    for name, cells in MATRIX.items()
    for cell in cells
    for role in ROLES
]


@pytest.fixture(scope="module")
def built(django_db_setup, django_db_blocker, tmp_path_factory):
    """The world and its media folder, for every cell of the module: built in a transaction that is
    rolled back once the module is done (each cell's own transaction is a savepoint inside it)."""
    media = tmp_path_factory.mktemp("media")
    with override_settings(MEDIA_ROOT=media), django_db_blocker.unblock(), transaction.atomic():
        yield build_world(), media
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _private_media(settings, request):
    """The cells read the attachments the world stored: its media folder, not one per test."""
    if "built" in request.fixturenames:
        settings.MEDIA_ROOT = request.getfixturevalue("built")[1]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "cell", "role"), CASES)
def test_route_answers_each_role_as_the_matrix_says(name, cell, role, built):
    world = replace(built[0])  # a new World: the data made on first use (world._kb, …) is made again
    client = Client()
    if world.users[role] is not None:
        client.force_login(world.users[role])
    data = cell.data(world) if callable(cell.data) else cell.data
    kwargs = {"data": data, "content_type": "application/json"} if cell.json else {"data": data}
    if cell.method in ("GET", "DELETE"):
        kwargs = {}
    response = getattr(client, cell.method.lower())(cell.url(world), **kwargs)
    assert response.status_code == cell.expect[role], (
        f"{cell.method} {cell.url(world)} as {role}: {response.status_code} {getattr(response, 'content', b'')[:300]!r}"
    )
