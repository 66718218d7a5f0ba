"""The SLA engine's part of the REST API: deadlines and escalations on tickets, POST escalate, the policies."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sofacover.parsers import StrictJSONTypes
from tickets import permissions as ticket_permissions
from tickets.api import serializers as ticket_serializers
from tickets.api.views import ERRORS
from tickets.models import Ticket

from . import selectors, services
from .models import BusinessCalendar, Escalation, SlaPolicy


class EscalationSerializer(serializers.ModelSerializer):
    """One escalation as the viewer may see it: customers never see who at the desk escalated, nor why."""

    rule = serializers.CharField(source="rule.name", allow_null=True, default=None, read_only=True)
    actor = ticket_serializers.PersonField()
    note = serializers.SerializerMethodField(
        help_text="The desk sees every note; a customer only the notes of their own requests (else empty)."
    )

    class Meta:
        model = Escalation
        fields = [
            "at",
            "reason",
            "rule",
            "from_tier",
            "to_tier",
            "to_management",
            "actor",
            "note",
            "review_pending",
            "reviewed_at",
        ]
        read_only_fields = fields

    def get_note(self, escalation: Escalation) -> str:
        viewer = ticket_serializers.viewer_of(self)
        readable = ticket_permissions.can_read_escalation_note(viewer, author_id=escalation.actor_id)
        return escalation.note if readable else ""


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


class EscalateRequestSerializer(StrictJSONTypes, serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=sorted(services.MANUAL_REASONS),
        help_text=(
            "Customers may only use customer_request, once per ticket (a repeat is a 409): it raises the ticket "
            "one tier, never to management, and flags it for a lead's review."
        ),
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    from_tier = serializers.ChoiceField(
        choices=Ticket.Tier.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="The tier you saw. If the ticket has moved since, the request is refused (409) and nothing changes.",
    )


class SlaTargetSerializer(serializers.Serializer):
    value = serializers.IntegerField(min_value=1)
    unit = serializers.ChoiceField(
        choices=SlaPolicy.Unit.values,
        help_text="minutes and hours run on the calendar's opening hours; business_days count whole open days "
        "(on a 24x7 calendar a day is 24 h).",
    )


def _target(policy: SlaPolicy, name: str) -> dict | None:
    value = getattr(policy, f"{name}_target")
    return {"value": value, "unit": getattr(policy, f"{name}_unit")} if value else None


class SlaCalendarSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessCalendar
        fields = ["name", "time_zone", "always_open"]
        read_only_fields = fields


class SlaPolicySerializer(serializers.ModelSerializer):
    calendar = SlaCalendarSerializer(read_only=True)
    first_response = serializers.SerializerMethodField()
    resolution = serializers.SerializerMethodField()
    # A declared field: DRF's serializer metaclass takes it off the class, so ModelSerializer.update() stays.
    update = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text="How often a public update is due; null: no update timer."
    )

    class Meta:
        model = SlaPolicy
        fields = [
            "priority",
            "calendar",
            "first_response",
            "resolution",
            "update",
            "response_target_share",
            "resolution_target_share",
        ]
        read_only_fields = fields

    @extend_schema_field(SlaTargetSerializer)
    def get_first_response(self, policy: SlaPolicy) -> dict | None:
        return _target(policy, "first_response")

    @extend_schema_field(SlaTargetSerializer)
    def get_resolution(self, policy: SlaPolicy) -> dict | None:
        return _target(policy, "resolution")

    @extend_schema_field(SlaTargetSerializer(allow_null=True))
    def get_update(self, policy: SlaPolicy) -> dict | None:
        return _target(policy, "update")


class SlaPolicyListView(APIView):
    @extend_schema(
        summary="The SLA policy of each priority: targets with their units, calendar, share that must meet them",
        responses={200: SlaPolicySerializer(many=True), 401: ERRORS[401]},
    )
    def get(self, request: Request) -> Response:
        return Response(SlaPolicySerializer(selectors.policy_list(), many=True).data)


# What the escalations field reads, for the views that show tickets with it (support.api).
ESCALATIONS_PREFETCH = Prefetch(
    "escalations", queryset=Escalation.objects.select_related("rule", "actor").order_by("at", "id")
)
