"""The REST API's ticket endpoints, composed from the apps.

tickets.api.views holds the ticket and message views; here they are served with
support.usecases (every change), the ticket representation with the SLA engine's
deadlines, state and escalations, and the knowledge base's response templates for
replies. POST escalate and POST rating are here too: each is a use case. The incidents API
(incidents.api) is served with support.usecases as well.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escalation import api as escalation_api
from incidents import api as incidents_api
from knowledge import console as knowledge_console
from sofacover.auth import signed_in_user
from surveys import api as survey_api
from surveys import permissions as survey_permissions
from tickets import selectors as ticket_selectors
from tickets import services as ticket_services
from tickets.api import serializers as ticket_serializers
from tickets.api import views as ticket_views
from tickets.api.views import ERRORS, REFERENCE
from tickets.models import Ticket

from . import usecases


class TicketSerializer(ticket_serializers.TicketSerializer):
    """A ticket as tickets shows it, with the SLA engine's deadlines, state and escalation history."""

    first_response_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolution_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    next_update_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    tier_response_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    sla_state = escalation_api.SlaStateField()
    escalations = escalation_api.EscalationSerializer(many=True, read_only=True)

    class Meta(ticket_serializers.TicketSerializer.Meta):
        fields = [
            *ticket_serializers.TicketSerializer.Meta.fields,
            "first_response_due_at",
            "resolution_due_at",
            "next_update_due_at",
            "tier_response_due_at",
            "sla_state",
            "escalations",
        ]


_errors = ticket_views.errors


# The schema shows the composed representation wherever tickets' views answer with a ticket.
@extend_schema_view(
    list=extend_schema(responses={200: TicketSerializer, **_errors(400, 404)}),
    retrieve=extend_schema(responses={200: TicketSerializer, **_errors(404)}),
    create=extend_schema(responses={201: TicketSerializer, **_errors(400, 429)}),
    partial_update=extend_schema(responses={200: TicketSerializer, **_errors(400, 403, 404, 409)}),
    resolve=extend_schema(responses={200: TicketSerializer, **_errors(400, 403, 404, 409)}),
    reopen=extend_schema(responses={200: TicketSerializer, **_errors(403, 404, 409)}),
    assign=extend_schema(responses={200: TicketSerializer, **_errors(400, 403, 404, 409)}),
)
class TicketViewSet(ticket_views.TicketViewSet):
    usecases = usecases
    serializer_class = TicketSerializer
    prefetch = (escalation_api.ESCALATIONS_PREFETCH,)


class MessageViewSet(ticket_views.MessageViewSet):
    usecases = usecases

    def template_render(self, ticket: Ticket, slug: str) -> str | None:
        return knowledge_console.render_template_for_message(ticket, slug, signed_in_user(self.request))


class IncidentViewSet(incidents_api.IncidentViewSet):
    usecases = usecases


class EscalateView(APIView):
    @extend_schema(
        summary="Escalate a ticket to the next tier (or management from Tier 3)",
        parameters=[REFERENCE],
        request=escalation_api.EscalateRequestSerializer,
        responses={201: escalation_api.EscalationSerializer, **{c: ERRORS[c] for c in (400, 403, 404, 409)}},
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = ticket_selectors.ticket_get_visible_to(user=request.user, reference=reference)
        data = escalation_api.EscalateRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        escalation = usecases.escalate(
            ticket=ticket, actor=signed_in_user(request), now=timezone.now(), **data.validated_data
        )
        return Response(
            escalation_api.EscalationSerializer(escalation, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class RatingView(APIView):
    @extend_schema(
        summary="Rate a resolved ticket (its requester)",
        description=(
            "Score 1 to 5 and an optional comment, once the ticket is resolved or closed. One rating per "
            "ticket; rating again within 7 days of the first rating replaces it (200), later it is refused (409). "
            "Only the customer who filed the ticket may rate it: agents get 403, other customers 404."
        ),
        parameters=[REFERENCE],
        request=survey_api.RatingRequestSerializer,
        responses={
            201: survey_api.RatingSerializer,
            200: OpenApiResponse(survey_api.RatingSerializer, description="An earlier rating was replaced."),
            **_errors(400, 403, 404, 409),
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = ticket_selectors.ticket_get_visible_to(user=request.user, reference=reference)
        if not survey_permissions.can_rate_ticket(request.user, ticket):
            raise ticket_services.NotAllowed(gettext("Only the customer who filed this ticket can rate it."))
        data = survey_api.RatingRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating, created = usecases.rate(
            ticket=ticket, actor=signed_in_user(request), now=timezone.now(), **data.validated_data
        )
        return Response(
            survey_api.RatingSerializer(rating).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
