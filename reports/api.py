"""The reports API: managers only (agents 403, customers 404), the filters of the page, fixed shapes."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sofacover.openapi import REFUSAL, VALIDATION_ERROR
from tickets.api.views import ERRORS
from tickets.models import Ticket

from . import selectors
from .filters import ReportFilters, desk_zone, filters_from_params
from .permissions import CanViewReports

FILTERS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        description="First day (desk time zone, Europe/London), included. Default: 89 days before `to`.",
    ),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (desk time zone), included. Default: today."),
    OpenApiParameter("priority", str, enum=Ticket.Priority.values),
    OpenApiParameter("tier", int, enum=Ticket.Tier.values),
    OpenApiParameter("category", str, enum=Ticket.Category.values),
    OpenApiParameter("channel", str, enum=Ticket.Channel.values),
    OpenApiParameter("agent", str, description="The assignee's email address."),
]
REPORT_ERRORS = {
    400: OpenApiResponse(VALIDATION_ERROR, description="A bad filter, e.g. a date that is not YYYY-MM-DD."),
    401: ERRORS[401],
    403: OpenApiResponse(REFUSAL, description="Agents without the reports permission."),
    404: OpenApiResponse(REFUSAL, description="Customers: there is nothing here."),
}
DEFINITIONS = (
    "Response figures count tickets created in the range; resolution figures, CSAT and first-contact "
    "resolution count tickets resolved in it. Within target uses the SLA deadlines stored on each ticket "
    "(pauses and business hours excluded); durations are wall-clock seconds. Shares are 0..1; no data is null. "
    "Incident figures: counts and MTTD (detected - started) over incidents declared in the range, incident MTTR "
    "for P0/P1 (resolved - started) over those resolved in it, updates on cadence over public updates posted in it "
    "(and updates missed), review items on time over items due in it; only the priority filter applies to them."
)


class RangeSerializer(serializers.Serializer):
    """The range the figures cover; "from" is a Python keyword, so the fields are made here."""

    def get_fields(self):
        return {
            "from": serializers.DateField(help_text="First day, included (desk time zone)."),
            "to": serializers.DateField(help_text="Last day, included (desk time zone)."),
            **super().get_fields(),
        }


class PrioritySlaSerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Ticket.Priority.choices)
    tickets = serializers.IntegerField(help_text="Tickets created in the range.")
    responded_within_target = serializers.FloatField(allow_null=True, help_text="Share 0..1.")
    response_target_share = serializers.FloatField()
    resolved_within_target = serializers.FloatField(allow_null=True, help_text="Share 0..1 of tickets resolved.")
    resolution_target_share = serializers.FloatField()
    response_breaches = serializers.IntegerField()
    resolution_breaches = serializers.IntegerField()
    median_first_response_seconds = serializers.FloatField(allow_null=True)
    median_resolution_seconds = serializers.FloatField(allow_null=True)


class SlaReportSerializer(RangeSerializer):
    priorities = PrioritySlaSerializer(many=True)


class DistributionSerializer(serializers.Serializer):
    def get_fields(self):
        return {str(score): serializers.IntegerField() for score in range(1, 6)}


class SatisfactionReportSerializer(RangeSerializer):
    csat_average = serializers.FloatField(allow_null=True)
    csat_target = serializers.FloatField()
    ratings = serializers.IntegerField()
    resolved_tickets = serializers.IntegerField()
    survey_response_rate = serializers.FloatField(allow_null=True)
    first_contact_resolution_rate = serializers.FloatField(allow_null=True)
    distribution = DistributionSerializer()


class MetricSerializer(serializers.Serializer):
    key = serializers.CharField()
    # A declared field: DRF's serializer metaclass takes it off the class, so Field.label is not overridden.
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.FloatField(allow_null=True)
    unit = serializers.ChoiceField(choices=["share", "score", "seconds", "count"])
    target = serializers.FloatField(allow_null=True)
    comparison = serializers.ChoiceField(choices=[">=", ">", "<"], allow_null=True)
    met = serializers.BooleanField(allow_null=True)
    available = serializers.BooleanField()


class SummaryReportSerializer(RangeSerializer):
    metrics = MetricSerializer(many=True)


class ReportView(APIView):
    permission_classes = [IsAuthenticated, CanViewReports]

    def filters(self, request: Request) -> ReportFilters:
        # The page's form sends empty fields for "all"; the API documents each parameter's type, so an
        # empty one is a 400 naming it rather than silently ignored.
        empty = [p.name for p in FILTERS if p.name in request.query_params and not request.query_params[p.name].strip()]
        if empty:
            raise serializers.ValidationError(
                {name: [gettext("Leave this parameter out rather than send it empty.")] for name in empty}
            )
        return filters_from_params(request.query_params, today=timezone.now().astimezone(desk_zone()).date())


class SlaReportView(ReportView):
    @extend_schema(
        summary="SLA compliance per priority",
        description=DEFINITIONS,
        parameters=FILTERS,
        responses={200: SlaReportSerializer, **REPORT_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.report_sla(self.filters(request), now=timezone.now()))


class SatisfactionReportView(ReportView):
    @extend_schema(
        summary="Satisfaction: CSAT, survey response rate, first-contact resolution",
        description=DEFINITIONS,
        parameters=FILTERS,
        responses={200: SatisfactionReportSerializer, **REPORT_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.report_satisfaction(self.filters(request)))


class SummaryReportView(ReportView):
    @extend_schema(
        summary="Every scorecard metric with its value, target and whether it is met",
        description=DEFINITIONS,
        parameters=FILTERS,
        responses={200: SummaryReportSerializer, **REPORT_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.report_summary(self.filters(request), now=timezone.now()))
