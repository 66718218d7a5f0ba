"""The SLA engine's part of the REST API: deadlines and escalations on tickets, and POST escalate."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sofacover.parsers import StrictJSONTypes
from tickets import selectors as ticket_selectors
from tickets.api import serializers as ticket_serializers
from tickets.api.views import ERRORS, REFERENCE
from tickets.models import Ticket

from . import selectors, services
from .models import Escalation


class EscalationSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.name", allow_null=True, default=None, read_only=True)
    actor = serializers.EmailField(source="actor.username", allow_null=True, default=None, read_only=True)

    class Meta:
        model = Escalation
        fields = ["at", "reason", "rule", "from_tier", "to_tier", "to_management", "actor", "note"]
        read_only_fields = fields


SLA_STATES = ["on_track", "at_risk", "breached", "met", "paused", "not_applicable"]


class SlaStateSerializer(serializers.Serializer):
    response = serializers.ChoiceField(choices=SLA_STATES)
    resolution = serializers.ChoiceField(choices=SLA_STATES)


@extend_schema_field(SlaStateSerializer)
class SlaStateField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, ticket):
        return selectors.sla_state(ticket, now=timezone.now())


def register_ticket_fields() -> None:
    """Contribute the SLA fields to the ticket representation (tickets never imports us)."""
    extra = ticket_serializers.TICKET_EXTRA_FIELDS
    for name in ("first_response_due_at", "resolution_due_at", "next_update_due_at", "tier_response_due_at"):
        extra[name] = lambda name=name: serializers.DateTimeField(read_only=True, allow_null=True)
    extra["sla_state"] = SlaStateField
    extra["escalations"] = lambda: EscalationSerializer(many=True, read_only=True)
    if not any(getattr(p, "prefetch_to", None) == "escalations" for p in ticket_serializers.TICKET_PREFETCH):
        ticket_serializers.TICKET_PREFETCH.append(
            Prefetch("escalations", queryset=Escalation.objects.select_related("rule", "actor").order_by("at", "id"))
        )


class EscalateRequestSerializer(StrictJSONTypes, serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=sorted(services.MANUAL_REASONS),
        help_text="Customers may only use customer_request, once per tier.",
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    from_tier = serializers.ChoiceField(
        choices=Ticket.Tier.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="The tier you saw. If the ticket has moved since, the request is refused (409) and nothing changes.",
    )


class EscalateView(APIView):
    @extend_schema(
        summary="Escalate a ticket to the next tier (or management from Tier 3)",
        parameters=[REFERENCE],
        request=EscalateRequestSerializer,
        responses={201: EscalationSerializer, **{c: ERRORS[c] for c in (400, 403, 404, 409)}},
    )
    def post(self, request: Request, reference: str) -> Response:
        ticket = ticket_selectors.ticket_get_visible_to(user=request.user, reference=reference)
        data = EscalateRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        escalation = services.ticket_escalate(
            ticket=ticket, actor=request.user, now=timezone.now(), **data.validated_data
        )
        return Response(EscalationSerializer(escalation).data, status=status.HTTP_201_CREATED)
