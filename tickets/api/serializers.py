"""Input and output shapes. Customers and agents get separate input serializers,
so a customer can never write a field they do not own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db.models import Model, Prefetch
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import permissions as roles
from accounts import selectors as account_selectors
from sofacover.parsers import StrictJSONTypes

from ..models import Attachment, Message, Ticket, TicketCc, TicketEvent

MAX_SUBJECT = 200


@extend_schema_field({"type": "string", "format": "email", "nullable": True})
class AgentEmailField(serializers.CharField):
    """An agent picked by email address; null clears."""

    default_error_messages = {
        "not_agent": gettext_lazy("No support agent has the address {value}."),
        "invalid_email": gettext_lazy("Enter a valid email address."),
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        email = super().run_validation(data)
        if email is None or email is serializers.empty:
            return email
        try:
            validate_email(email)
        except DjangoValidationError:
            self.fail("invalid_email")
        agent = account_selectors.agent_get(email=email)
        if agent is None:
            self.fail("not_agent", value=email)
        return agent

    def to_representation(self, value):
        return value.username if isinstance(value, User) else value


def viewer_of(field: serializers.Field) -> User | AnonymousUser:
    """Whom a representation is for: the request's user. Without a request, nobody: the customers' view."""
    request = field.context.get("request")
    user = getattr(request, "user", None)
    return user if user is not None else AnonymousUser()


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "description": (
            "Who: an email address for the desk; a customer sees their own address and "
            f'"{roles.SUPPORT_TEAM}" for anyone from the desk. Null: the system.'
        ),
    }
)
class PersonField(serializers.Field):
    """A person as the viewer may know them (roles.person_shown_to): never a staff identity to customers."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, person: User | None) -> str | None:
        return roles.person_shown_to(viewer_of(self), person)


def ticket_prefetched_new(ticket: Ticket, prefetch: Sequence[str | Prefetch]) -> Ticket:
    """A ticket filed in this request: what ``prefetch`` would read is empty, so read nothing.

    The contributed relations (escalations, ...) point at the ticket, so none can
    exist before it does; the representation then needs no query for them.
    """
    cache = ticket.__dict__.setdefault("_prefetched_objects_cache", {})
    for lookup in prefetch:
        path = lookup.prefetch_to if isinstance(lookup, Prefetch) else lookup
        name = path.split("__")[0]  # nothing under an empty first level either
        related = cast("type[Model]", Ticket._meta.get_field(name).related_model)  # a relation's: a model
        empty = related._default_manager.none()
        # Evaluated, as prefetch_related leaves its querysets: iterating a bare none() would
        # still compile a query (to find it empty) each time.
        empty._result_cache, empty._prefetch_done = [], True  # type: ignore[attr-defined]  # QuerySet's own
        cache[name] = empty
    return ticket


class TicketSerializer(serializers.ModelSerializer):
    requester = serializers.EmailField(source="requester.username", read_only=True)
    requester_name = serializers.SerializerMethodField()
    assignee = PersonField()
    tier = serializers.ChoiceField(choices=Ticket.Tier.choices, read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "reference",
            "subject",
            "description",
            "priority",
            "status",
            "tier",
            "channel",
            "category",
            "requester",
            "requester_name",
            "assignee",
            "created_at",
            "updated_at",
            "first_responded_at",
            "resolved_at",
            "closed_at",
            "resolution_note",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "resolution_note": {
                "help_text": "What the agent who resolved the ticket told the customer (the resolution mail's "
                "text); empty until resolved, cleared when reopened."
            }
        }

    def get_requester_name(self, ticket: Ticket) -> str:
        return ticket.requester.get_full_name() or ticket.requester.username


class CustomerTicketCreateSerializer(StrictJSONTypes, serializers.Serializer):
    """What a customer may say when filing: never tier, assignee, requester or status."""

    subject = serializers.CharField(max_length=MAX_SUBJECT, trim_whitespace=True)
    description = serializers.CharField(max_length=20000, trim_whitespace=True)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, default=Ticket.Priority.P2)
    category = serializers.ChoiceField(choices=Ticket.Category.choices, default=Ticket.Category.OTHER)


class AgentTicketCreateSerializer(CustomerTicketCreateSerializer):
    """Agents file on behalf of a customer (phone, chat, email)."""

    requester = serializers.EmailField(
        required=False, help_text="Email address of an existing customer. Required when an agent files."
    )
    channel = serializers.ChoiceField(choices=Ticket.Channel.choices, default=Ticket.Channel.API)
    tier = serializers.ChoiceField(choices=Ticket.Tier.choices, default=Ticket.Tier.TIER_1)
    assignee = AgentEmailField(required=False, allow_null=True, default=None)

    def validate_requester(self, email: str) -> User:
        user = User.objects.filter(username=email.strip().lower(), is_active=True).first()
        if user is None:
            raise serializers.ValidationError(gettext("No user has the address %(email)s.") % {"email": email})
        return user


class AgentTicketUpdateSerializer(StrictJSONTypes, serializers.Serializer):
    subject = serializers.CharField(max_length=MAX_SUBJECT, required=False)
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices, required=False)
    tier = serializers.ChoiceField(choices=Ticket.Tier.choices, required=False)
    category = serializers.ChoiceField(choices=Ticket.Category.choices, required=False)
    status = serializers.ChoiceField(
        choices=[c for c in Ticket.Status.choices if c[0] != Ticket.Status.NEW], required=False
    )
    assignee = AgentEmailField(required=False, allow_null=True)
    resolution_note = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        help_text="With `status: resolved`: how it was resolved, mailed to the customer. Required for P0 and P1 "
        "(400 on this field without it). On a resolved ticket alone: corrects the note.",
    )


class ResolveRequestSerializer(StrictJSONTypes, serializers.Serializer):
    resolution_note = serializers.CharField(
        max_length=5000,
        required=False,
        allow_blank=True,
        default="",
        help_text="How it was resolved, in words for the customer: the resolution mail quotes it. Required when an "
        "agent resolves a P0 or P1 (400 on this field without it); a requester marking their ticket solved sends "
        "none.",
    )


class CcSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketCc
        fields = ["email", "added_at"]
        read_only_fields = fields


class CcRequestSerializer(StrictJSONTypes, serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="Who to copy on the ticket's public replies.")


class AssignSerializer(StrictJSONTypes, serializers.Serializer):
    assignee = AgentEmailField(allow_null=True, help_text="An agent's email address, or null to unassign.")


class AttachmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "url"]
        read_only_fields = fields

    @extend_schema_field(
        serializers.CharField(help_text="Where to download the file with the same credentials: `GET` it.")
    )
    def get_url(self, attachment: Attachment) -> str:
        return reverse("api-attachment", kwargs={"id": attachment.uuid})


class MessageSerializer(serializers.ModelSerializer):
    author = PersonField()
    author_name = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = ["id", "author", "author_name", "by_agent", "body", "internal", "created_at", "attachments"]
        read_only_fields = fields

    def get_author_name(self, message: Message) -> str:
        """The desk sees full names; a customer sees a reply signed as the portal signs it (a first name)."""
        author, viewer = message.author, viewer_of(self)
        if roles.is_agent(viewer) or author.pk == viewer.pk:
            return author.get_full_name() or author.username
        return author.first_name or roles.SUPPORT_TEAM


class MessageCreateSerializer(StrictJSONTypes, serializers.Serializer):
    body = serializers.CharField(
        max_length=50000,
        allow_blank=True,
        trim_whitespace=True,
        default="",
        help_text="Markdown. With `template`, added after the rendered template, separated by a blank line.",
    )
    template = serializers.SlugField(
        max_length=80,
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "Agents only: the slug of an active response template, rendered for this ticket (customer name, "
            "reference, ...) as the start of the message; `body`, if any, follows it. An unknown slug is a 400 "
            "on this field; a customer sending it gets a 403."
        ),
    )
    internal = serializers.BooleanField(default=False, help_text="An internal note (agents only).")
    attachments = serializers.ListField(
        child=serializers.FileField(max_length=200, allow_empty_file=False),
        required=False,
        default=list,
        max_length=10,
    )


class TicketEventSerializer(serializers.ModelSerializer):
    actor = PersonField()

    class Meta:
        model = TicketEvent
        fields = ["at", "actor", "kind", "field", "old_value", "new_value"]
        read_only_fields = fields

    def to_representation(self, event: TicketEvent) -> dict:
        data = super().to_representation(event)
        if event.field == "assignee" and not roles.is_agent(viewer_of(self)):
            # The assignee's address is a staff identity: customers learn only that the desk has it.
            for key in ("old_value", "new_value"):
                data[key] = roles.SUPPORT_TEAM if data[key] else ""
        return data


class ErrorSerializer(serializers.Serializer):
    """A refused change: a stable code and a sentence for people."""

    code = serializers.CharField()
    message = serializers.CharField()
