"""Queue scoping: every agent reads every ticket; a ticket above your tier is changed only once it is yours.

Every door that changes or annotates a ticket (the API, the console's forms and
bulk actions, the knowledge base's console actions) x every desk role, on a
Tier 3 ticket: agents of Tier 1 and 2 are refused (403 in the API, a message or
a 403 in the console) and nothing changes; Tier 3 agents, the agent the ticket
is assigned to, managers and admins change it. One predicate decides
(tickets.permissions.can_change_ticket), asked by the services every door calls.
Each cell builds fresh data, as in tests/test_authorization_matrix.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from escalation.models import Escalation
from support import usecases
from tests.tickets.factories import T0, TicketFactory, make_user
from tickets import permissions, services
from tickets.models import Message, Ticket

pytestmark = pytest.mark.django_db

# role -> may it change a Tier 3 ticket?
ROLES = {
    "tier1": False,
    "tier2": False,
    "tier1_assignee": True,
    "tier3": True,
    "manager": True,
    "admin": True,
}
T = "/api/v1/tickets/"
CHANGELIST = reverse("admin:tickets_ticket_changelist")


@dataclass
class World:
    user: User
    ticket: Ticket  # Tier 3, open, P2; assigned to the user for "tier1_assignee"
    resolved: Ticket  # Tier 3, resolved; assigned likewise

    def fresh(self) -> Ticket:
        return Ticket.objects.get(pk=self.ticket.pk)


def build_world(role: str) -> World:
    user = {
        "tier1": lambda: make_user("t1@sofacoverpro.com", "agent", tier=1),
        "tier1_assignee": lambda: make_user("t1@sofacoverpro.com", "agent", tier=1),
        "tier2": lambda: make_user("t2@sofacoverpro.com", "agent", tier=2),
        "tier3": lambda: make_user("t3@sofacoverpro.com", "agent", tier=3),
        "manager": lambda: make_user("boss@sofacoverpro.com", "manager"),
        "admin": lambda: make_user("root@sofacoverpro.com", "admin"),
    }[role]()
    assignee = user if role == "tier1_assignee" else None
    customer = make_user("c@example.com", "customer")
    ticket = TicketFactory(requester=customer, tier=3, assignee=assignee)
    resolved = TicketFactory(requester=customer, tier=3, assignee=assignee, status=Ticket.Status.RESOLVED)
    return World(user=user, ticket=ticket, resolved=resolved)


def api(world: World) -> APIClient:
    client = APIClient()
    client.force_authenticate(world.user)
    return client


def console(world: World) -> Client:
    client = Client()
    client.force_login(world.user)
    return client


def runbook_slug() -> str:
    from knowledge import services as kb_services
    from knowledge.models import Article

    return kb_services.article_create(
        actor=None,
        title="Scoping runbook",
        body="- [ ] One\n",
        slug="scoping-runbook",
        audience=Article.Audience.INTERNAL,
        status=Article.Status.PUBLISHED,
        now=T0,
    ).slug


@dataclass
class Door:
    act: Callable[[World], Any]  # -> the test client's response
    changed: Callable[[World], bool]
    allowed: int  # the status when the change is made
    refused: int  # the status when it is not


def _messages(world: World) -> int:
    return Message.objects.filter(ticket=world.ticket).count()


DOORS: dict[str, Door] = {
    # --- the API ---
    "api patch priority": Door(
        lambda w: api(w).patch(f"{T}{w.ticket.reference}/", {"priority": "P0"}, format="json"),
        lambda w: w.fresh().priority == "P0",
        200,
        403,
    ),
    "api patch status": Door(
        lambda w: api(w).patch(f"{T}{w.ticket.reference}/", {"status": "pending_customer"}, format="json"),
        lambda w: w.fresh().status == "pending_customer",
        200,
        403,
    ),
    "api assign": Door(
        lambda w: api(w).post(f"{T}{w.ticket.reference}/assign/", {"assignee": "t9@sofacoverpro.com"}, format="json"),
        lambda w: getattr(w.fresh().assignee, "username", None) == "t9@sofacoverpro.com",
        200,
        403,
    ),
    "api resolve": Door(
        lambda w: api(w).post(f"{T}{w.ticket.reference}/resolve/"),
        lambda w: w.fresh().status == "resolved",
        200,
        403,
    ),
    "api reopen": Door(
        lambda w: api(w).post(f"{T}{w.resolved.reference}/reopen/"),
        lambda w: Ticket.objects.get(pk=w.resolved.pk).status == "open",
        200,
        403,
    ),
    "api reply": Door(
        lambda w: api(w).post(f"{T}{w.ticket.reference}/messages/", {"body": "On it."}, format="json"),
        lambda w: _messages(w) == 1,
        201,
        403,
    ),
    "api internal note": Door(
        lambda w: api(w).post(f"{T}{w.ticket.reference}/messages/", {"body": "psst", "internal": True}, format="json"),
        lambda w: _messages(w) == 1,
        201,
        403,
    ),
    "api escalate": Door(
        lambda w: api(w).post(f"{T}{w.ticket.reference}/escalate/", {"reason": "technical_complexity"}, format="json"),
        lambda w: Escalation.objects.filter(ticket=w.ticket).exists(),
        201,
        403,
    ),
    # --- the console ---
    "console change form": Door(
        lambda w: console(w).post(
            reverse("admin:tickets_ticket_change", args=[w.ticket.pk]),
            {"subject": "Edited", "priority": "P1", "status": "new", "tier": "3", "category": "orders"},
        ),
        lambda w: w.fresh().priority == "P1",
        302,
        403,
    ),
    "console reply": Door(
        lambda w: console(w).post(reverse("admin:tickets_ticket_reply", args=[w.ticket.pk]), {"body": "On it."}),
        lambda w: _messages(w) == 1,
        302,
        302,
    ),
    "console note": Door(
        lambda w: console(w).post(
            reverse("admin:tickets_ticket_reply", args=[w.ticket.pk]), {"body": "psst", "internal": "on"}
        ),
        lambda w: _messages(w) == 1,
        302,
        302,
    ),
    "console escalate": Door(
        lambda w: console(w).post(
            reverse("admin:tickets_ticket_escalate", args=[w.ticket.pk]), {"reason": "technical_complexity"}
        ),
        lambda w: Escalation.objects.filter(ticket=w.ticket).exists(),
        302,
        302,
    ),
    "console bulk resolve": Door(
        lambda w: console(w).post(CHANGELIST, {"action": "resolve_tickets", "_selected_action": [w.ticket.pk]}),
        lambda w: w.fresh().status == "resolved",
        302,
        302,
    ),
    "console bulk assign to me": Door(
        lambda w: console(w).post(CHANGELIST, {"action": "assign_to_me", "_selected_action": [w.ticket.pk]}),
        lambda w: w.fresh().assignee_id == w.user.pk,  # the assignee already has it: nothing to refuse
        302,
        302,
    ),
    "console bulk priority": Door(
        lambda w: console(w).post(CHANGELIST, {"action": "set_priority_p0", "_selected_action": [w.ticket.pk]}),
        lambda w: w.fresh().priority == "P0",
        302,
        302,
    ),
    "console bulk escalate": Door(
        lambda w: console(w).post(CHANGELIST, {"action": "escalate_next_tier", "_selected_action": [w.ticket.pk]}),
        lambda w: Escalation.objects.filter(ticket=w.ticket).exists(),
        302,
        302,
    ),
    "console runbook attach": Door(
        lambda w: console(w).post(
            f"/console/tickets/{w.ticket.reference}/runbooks/attach/", {"article": runbook_slug()}
        ),
        lambda w: w.fresh().events.filter(kind="runbook_attached").exists(),
        302,
        302,
    ),
    "console template reply": Door(
        lambda w: console(w).post(f"/console/tickets/{w.ticket.reference}/template-reply/", {"body": "See this"}),
        lambda w: _messages(w) == 1,
        302,
        302,
    ),
}

CASES = [pytest.param(door, role, id=f"{door}-{role}") for door in DOORS for role in ROLES]


@pytest.mark.parametrize(("door", "role"), CASES)
def test_a_tier_3_ticket_is_changed_only_by_those_in_scope(door, role):
    make_user("t9@sofacoverpro.com", "agent", tier=1)  # someone to assign to
    world = build_world(role)
    spec = DOORS[door]

    response = spec.act(world)

    may = ROLES[role]
    assert response.status_code == (spec.allowed if may else spec.refused), (
        f"{door} as {role}: {response.status_code} {response.content[:300]!r}"
    )
    assert spec.changed(world) is may, f"{door} as {role}: changed={not may}"
    if not may and door.startswith("api"):
        assert response.json()["code"] == "outside_your_tier"
    if not may and response.status_code == 302:
        told = " ".join(str(m) for m in get_messages(response.wsgi_request))
        assert "above yours" in told, f"{door} as {role}: no clear message ({told!r})"


class TestReading:
    @pytest.mark.parametrize("role", list(ROLES))
    def test_every_agent_reads_every_ticket(self, role):
        world = build_world(role)

        assert api(world).get(f"{T}{world.ticket.reference}/").status_code == 200
        assert api(world).get(f"{T}{world.ticket.reference}/timeline/").status_code == 200
        assert console(world).get(reverse("admin:tickets_ticket_change", args=[world.ticket.pk])).status_code == 200

    def test_the_ticket_page_says_why_it_is_read_only_and_offers_no_forms(self):
        world = build_world("tier1")

        html = console(world).get(reverse("admin:tickets_ticket_change", args=[world.ticket.pk])).content.decode()

        assert services.outside_scope_message(world.ticket) in html
        assert reverse("admin:tickets_ticket_reply", args=[world.ticket.pk]) not in html
        assert reverse("admin:tickets_ticket_escalate", args=[world.ticket.pk]) not in html
        assert 'name="_save"' not in html

    def test_the_agents_own_tier_is_theirs_to_change(self):
        agent = make_user("t1@sofacoverpro.com", "agent", tier=1)
        ticket = TicketFactory(tier=1)

        html = Client()
        html.force_login(agent)
        page = html.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()

        assert reverse("admin:tickets_ticket_reply", args=[ticket.pk]) in page
        assert "above yours" not in page


class TestThePredicate:
    @pytest.mark.parametrize(
        ("role", "tier", "assigned", "may"),
        [
            ("tier1", 1, False, True),
            ("tier1", 2, False, False),
            ("tier1", 3, True, True),
            ("tier2", 2, False, True),
            ("tier2", 3, False, False),
            ("tier3", 3, False, True),
            ("manager", 3, False, True),
            ("admin", 3, False, True),
        ],
    )
    def test_tier_assignment_and_role_decide(self, role, tier, assigned, may):
        user = build_world(role).user
        ticket = TicketFactory(tier=tier, assignee=user if assigned else None)

        assert permissions.can_change_ticket(user, ticket) is may

    def test_customers_change_nothing_as_the_desk(self, customer):
        assert permissions.can_change_ticket(customer, TicketFactory(requester=customer)) is False

    def test_a_ticket_moved_above_the_agent_after_the_form_was_read_is_refused(self):
        """The services decide on the ticket as it is when they lock it, not as the caller last saw it."""
        agent = make_user("t1@sofacoverpro.com", "agent", tier=1)
        ticket = TicketFactory(tier=1)
        Ticket.objects.filter(pk=ticket.pk).update(tier=3)  # someone else escalated meanwhile

        with pytest.raises(services.OutsideYourTier):
            usecases.reply(ticket=ticket, author=agent, body="hello", now=T0)

        assert not Message.objects.filter(ticket=ticket).exists()
