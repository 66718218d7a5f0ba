"""The REST API of tickets: parse input, make one use case or selector call, render.

support.api serves these views composed with the other apps: it supplies ``usecases``
(support.usecases: every change goes through it), the ticket representation with the
SLA fields and the prefetches they need, and the response templates of the knowledge base.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle

from accounts import permissions as roles
from sofacover import ratelimit as limits
from sofacover.openapi import REFUSAL, VALIDATION_ERROR
from sofacover.pagination import KeysetPagination
from sofacover.parsers import JSONParser

from .. import permissions, selectors, services, uploads
from ..filters import TicketFilter
from ..models import Ticket
from . import serializers as s

ERRORS = {
    400: OpenApiResponse(VALIDATION_ERROR, description="Invalid input: field names with their messages."),
    401: OpenApiResponse(REFUSAL, description="Not signed in."),
    403: OpenApiResponse(REFUSAL, description="Signed in, but not allowed."),
    404: OpenApiResponse(REFUSAL, description="No such ticket (or not yours)."),
    409: OpenApiResponse(s.ErrorSerializer, description="Refused by a rule of the desk, e.g. the transition."),
    429: OpenApiResponse(REFUSAL, description="Too many attempts; try again later."),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


class TicketCreateThrottle(UserRateThrottle):
    """Customers filing through the API, limited like the portal form (settings.RATELIMITS)."""

    scope = "ticket_api"

    def get_rate(self) -> str:
        return settings.RATELIMITS["ticket_account"]


AGENT_ONLY_FIELDS = {"requester", "channel", "tier", "assignee", "status"}


class TicketOrdering(OrderingFilter):
    """Only these keys can order tickets; anything else is ignored."""

    ordering_fields = ["created_at", "updated_at", "priority", "status", "tier", "reference"]


# A ticket's reference in API paths: the routes match exactly what the schema documents,
# so anything else is a 404 from the router. ASCII digits: Python's \d would also match "²".
REFERENCE_PATTERN = r"SCP-[0-9]{6,12}"


class TicketPagination(KeysetPagination):
    """Most urgent first (the queue's order, unique by id), or an allowed ``ordering`` followed by id."""

    ordering = selectors.URGENCY_ORDER


REFERENCE = OpenApiParameter(
    "reference",
    str,
    OpenApiParameter.PATH,
    pattern=rf"^{REFERENCE_PATTERN}$",
    description="The ticket's reference, e.g. SCP-000042.",
)


@extend_schema_view(
    list=extend_schema(
        summary="Tickets you may see, most urgent first",
        description=(
            "A page of tickets with `next` and `previous` links (null at either end); follow them to page "
            "through. There is no total count and no page number: the cursor in a link holds the position, "
            "so each page costs the same however many tickets the desk holds. A cursor belongs to the list's "
            "`ordering`: a changed ordering, or a cursor that was altered, is a 400."
        ),
        responses={200: s.TicketSerializer, **errors(400, 404)},
    ),
    retrieve=extend_schema(parameters=[REFERENCE], responses={200: s.TicketSerializer, **errors(404)}),
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    usecases: Any = None  # support.usecases (support.api)
    serializer_class = s.TicketSerializer
    # Related rows the representation reads (support.api: the escalations).
    prefetch: Sequence[str | Prefetch] = ()
    filterset_class = TicketFilter
    filter_backends = [DjangoFilterBackend, TicketOrdering]  # the default backends, with our ordering
    lookup_field = "reference"
    lookup_value_regex = REFERENCE_PATTERN
    ordering_fields = TicketOrdering.ordering_fields
    pagination_class = TicketPagination

    def get_throttles(self):
        # Customers filing through the API are throttled like the portal form is rate-limited.
        if self.action == "create" and not roles.is_agent(self.request.user):
            return [TicketCreateThrottle()]
        return []

    def get_queryset(self):
        return selectors.ticket_list_visible_to(user=self.request.user).prefetch_related(*self.prefetch)

    def get_object(self) -> Ticket:
        return selectors.ticket_get_visible_to(user=self.request.user, reference=self.kwargs["reference"])

    @extend_schema(
        summary="File a ticket",
        description=(
            "Customers send subject, description, priority and category; agents may also set "
            "requester, channel, tier and assignee."
        ),
        request=s.AgentTicketCreateSerializer,
        responses={201: s.TicketSerializer, **errors(400, 429)},
    )
    def create(self, request: Request) -> Response:
        agent = roles.is_agent(request.user)
        if not isinstance(request.data, Mapping):
            raise serializers.ValidationError(
                {"non_field_errors": [gettext("Send a JSON object with the ticket's fields.")]}
            )
        if not agent:
            # Say so rather than silently ignore: these fields are the desk's to set.
            forbidden = sorted(AGENT_ONLY_FIELDS & set(request.data))
            if forbidden:
                raise serializers.ValidationError(
                    {field: [gettext("Only support agents can set this field.")] for field in forbidden}
                )
        serializer_class = s.AgentTicketCreateSerializer if agent else s.CustomerTicketCreateSerializer
        data = serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if agent and "requester" not in values:
            raise serializers.ValidationError({"requester": [gettext("Agents must say whom the ticket is for.")]})
        if not agent:
            values.update(requester=request.user, channel=Ticket.Channel.API)
        ticket = self.usecases.file_ticket(actor=request.user, now=timezone.now(), **values)
        return Response(
            self.get_serializer(s.ticket_prefetched_new(ticket, self.prefetch)).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="Change a ticket (agents)",
        parameters=[REFERENCE],
        request=s.AgentTicketUpdateSerializer,
        responses={200: s.TicketSerializer, **errors(400, 403, 404, 409)},
    )
    def partial_update(self, request: Request, reference: str) -> Response:
        ticket = self.get_object()
        if not permissions.can_work_ticket(request.user):
            raise services.NotAllowed(gettext("Only support agents can change tickets."))
        data = s.AgentTicketUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        ticket = self.usecases.change(ticket=ticket, actor=request.user, now=timezone.now(), **data.validated_data)
        return Response(self._fresh(ticket))

    def _fresh(self, ticket: Ticket) -> dict:
        return self.get_serializer(
            selectors.ticket_get_visible_to(user=self.request.user, reference=ticket.reference or "")
        ).data

    @extend_schema(
        summary="Resolve a ticket",
        description=(
            "Agents, saying how in `resolution_note` (required for P0 and P1: the customer's resolution mail "
            "quotes it), or the requester marking their own ticket as solved. An empty body is fine where no "
            "note is needed."
        ),
        parameters=[REFERENCE],
        request=s.ResolveRequestSerializer,
        responses={200: s.TicketSerializer, **errors(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser, MultiPartParser])
    def resolve(self, request: Request, reference: str) -> Response:
        ticket = self.get_object()
        data = s.ResolveRequestSerializer(data=request.data if isinstance(request.data, Mapping) else {})
        data.is_valid(raise_exception=True)
        ticket = self.usecases.resolve(
            ticket=ticket,
            actor=request.user,
            now=timezone.now(),
            resolution_note=data.validated_data["resolution_note"],
        )
        return Response(self._fresh(ticket))

    @extend_schema(
        summary="Reopen a resolved ticket",
        parameters=[REFERENCE],
        request=None,
        responses={200: s.TicketSerializer, **errors(403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, reference: str) -> Response:
        ticket = self.usecases.reopen(ticket=self.get_object(), actor=request.user, now=timezone.now())
        return Response(self._fresh(ticket))

    @extend_schema(
        summary="Assign a ticket (agents)",
        parameters=[REFERENCE],
        request=s.AssignSerializer,
        responses={200: s.TicketSerializer, **errors(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, reference: str) -> Response:
        ticket = self.get_object()
        if not permissions.can_work_ticket(request.user):
            raise services.NotAllowed(gettext("Only support agents can assign tickets."))
        data = s.AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = self.usecases.assign(
            ticket=ticket, assignee=data.validated_data["assignee"], actor=request.user, now=timezone.now()
        )
        return Response(self._fresh(ticket))

    @extend_schema(
        methods=["GET"],
        summary="Who is copied on the ticket's public replies (agents)",
        parameters=[REFERENCE],
        responses={200: s.CcSerializer(many=True), **errors(403, 404)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Copy someone on the ticket's public replies (agents)",
        description=(
            "They get every public reply by email from now on (never internal notes), each in a mail of their "
            "own. 201 also when the address was already copied. Refused (400 on `email`): the requester's own "
            "address, the desk's, or a 21st address."
        ),
        parameters=[REFERENCE],
        request=s.CcRequestSerializer,
        responses={201: s.CcSerializer, **errors(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["get", "post"], url_path="cc", pagination_class=None, filter_backends=[])
    def cc(self, request: Request, reference: str) -> Response:
        ticket = self.get_object()
        if not permissions.can_work_ticket(request.user):
            raise services.NotAllowed(gettext("Only support agents manage who is copied."))
        if request.method == "GET":
            return Response(s.CcSerializer(selectors.cc_list(ticket=ticket), many=True).data)
        data = s.CcRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cc = self.usecases.cc_add(
            ticket=ticket, email=data.validated_data["email"], actor=request.user, now=timezone.now()
        )
        return Response(s.CcSerializer(cc).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Stop copying someone on the ticket's replies (agents)",
        parameters=[
            REFERENCE,
            OpenApiParameter("email", str, OpenApiParameter.PATH, description="The copied address."),
        ],
        request=None,
        responses={204: None, **errors(403, 404)},
    )
    @action(detail=True, methods=["delete"], url_path=r"cc/(?P<email>[^/]+)", filter_backends=[])
    def cc_remove(self, request: Request, reference: str, email: str) -> Response:
        ticket = self.get_object()
        if not permissions.can_work_ticket(request.user):
            raise services.NotAllowed(gettext("Only support agents manage who is copied."))
        if not self.usecases.cc_remove(ticket=ticket, email=email, actor=request.user, now=timezone.now()):
            raise NotFound(
                gettext("%(email)s is not copied on %(reference)s.") % {"email": email, "reference": ticket.reference}
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The ticket's timeline",
        parameters=[REFERENCE],
        responses={200: s.TicketEventSerializer(many=True), **errors(404)},
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def timeline(self, request: Request, reference: str) -> Response:
        events = selectors.event_list_visible_to(user=request.user, ticket=self.get_object())
        return Response(s.TicketEventSerializer(events, many=True, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(
        summary="The thread: public replies, and internal notes for agents",
        parameters=[REFERENCE],
        responses={200: s.MessageSerializer(many=True), **errors(404)},
    ),
    create=extend_schema(
        summary="Reply, or write an internal note (agents)",
        parameters=[REFERENCE],
        request={"application/json": s.MessageCreateSerializer, "multipart/form-data": s.MessageCreateSerializer},
        responses={201: s.MessageSerializer, **errors(400, 403, 404, 409, 429)},
    ),
)
class MessageViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    usecases: Any = None  # support.usecases (support.api)
    serializer_class = s.MessageSerializer
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filter_backends: list = []

    def ticket(self) -> Ticket:
        if not hasattr(self, "_ticket"):
            self._ticket = selectors.ticket_get_visible_to(user=self.request.user, reference=self.kwargs["reference"])
        return self._ticket

    def get_queryset(self):
        return selectors.message_list_visible_to(user=self.request.user, ticket=self.ticket())

    @method_decorator(limits.customer_replies)
    def create(self, request: Request, reference: str) -> Response:
        ticket = self.ticket()
        data = s.MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data["body"]
        if data.validated_data["template"]:
            body = self._from_template(ticket, data.validated_data["template"], body)
        try:
            checked = uploads.check_uploads(list(data.validated_data["attachments"]))
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"attachments": exc.messages}) from exc
        message = self.usecases.reply(
            ticket=ticket,
            author=request.user,
            body=body,
            internal=data.validated_data["internal"],
            attachments=checked,
            now=timezone.now(),
        )
        message = selectors.message_list_visible_to(user=request.user, ticket=ticket).get(pk=message.pk)
        return Response(
            s.MessageSerializer(message, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )

    def _from_template(self, ticket: Ticket, slug: str, body: str) -> str:
        """The rendered template, then ``body`` after a blank line (agents only; an unknown slug is a 400)."""
        if not permissions.can_work_ticket(self.request.user):
            raise PermissionDenied(gettext("Only support agents can reply from templates."))
        rendered = self.template_render(ticket, slug)
        if rendered is None:
            raise serializers.ValidationError(
                {"template": [gettext("There is no active response template “%(slug)s”.") % {"slug": slug}]}
            )
        return "\n\n".join(part for part in (rendered.strip(), body) if part)

    def template_render(self, ticket: Ticket, slug: str) -> str | None:
        """The response template ``slug`` rendered for ``ticket``; None for no such template (support.api: the
        knowledge base's templates)."""
        return None
