"""Factories with fixed, aware datetimes. Users are made through the service, so roles are real."""

from __future__ import annotations

from datetime import UTC, datetime

import factory
from django.contrib.auth.models import User

from accounts import services
from support import usecases
from tests.factories import ModelFactory
from tickets.models import Message, Ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery"


def make_user(email: str, role: str = "customer", tier: int | None = None, **extra) -> User:
    if role == "agent" and tier is None:
        tier = 1
    return services.user_create(email=email, password=PASSWORD, role=role, tier=tier, **extra)


class CustomerFactory(ModelFactory[User]):
    class Meta:
        model = User

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return make_user(kwargs.get("email") or f"customer{cls._next_number()}@example.com", "customer")

    _n = 0

    @classmethod
    def _next_number(cls) -> int:
        cls._n += 1
        return cls._n


class AgentFactory(CustomerFactory):
    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return make_user(
            kwargs.get("email") or f"agent{cls._next_number()}@sofacoverpro.com", "agent", kwargs.get("tier", 1)
        )


class TicketFactory(ModelFactory[Ticket]):
    """Opens a ticket through the file_ticket use case so the reference, timeline, deadlines and facts are real."""

    class Meta:
        model = Ticket

    requester = factory.SubFactory(CustomerFactory)
    subject = factory.Sequence(lambda n: f"Sofa cover order {n} arrived in the wrong colour")
    description = "I ordered the grey three-seater cover and got a beige one."
    priority = Ticket.Priority.P2
    category = Ticket.Category.ORDERS
    channel = Ticket.Channel.PORTAL
    created_at = T0

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        now = kwargs.pop("created_at")
        status = kwargs.pop("status", None)
        ticket = usecases.file_ticket(now=now, **kwargs)
        if status and status != Ticket.Status.NEW:
            Ticket.objects.filter(pk=ticket.pk).update(
                status=status,
                resolved_at=now if status == Ticket.Status.RESOLVED else None,
                closed_at=now if status == Ticket.Status.CLOSED else None,
            )
            ticket.refresh_from_db()
        return ticket


class MessageFactory(ModelFactory[Message]):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    author = factory.SelfAttribute("ticket.requester")
    body = "Any news on this?"
    internal = False
    created_at = T0

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return usecases.reply(
            ticket=kwargs["ticket"],
            author=kwargs["author"],
            body=kwargs["body"],
            internal=kwargs["internal"],
            now=kwargs["created_at"],
        )
