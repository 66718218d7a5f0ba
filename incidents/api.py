"""The incidents API, ``/api/v1/incidents/``: the desk's own (agents and managers).

Customers are told there is nothing here (404, as the reports do): their view of incidents is the
public status page. Parse input, make one use case call, render. support.api serves these views
with ``usecases`` (support.usecases), because declaring, updating, linking and resolving tell
people (Slack, the escalation list, the customers of linked tickets, subscribers): that spans apps.

An incident is named by its reference in paths (``INC-000042``); linked tickets by their
reference (``SCP-000042``) or id.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import django_filters
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import permissions as roles
from sofacover.errors import Conflict
from sofacover.openapi import REFUSAL, VALIDATION_ERROR
from sofacover.pagination import KeysetPagination, PageNumberPagination
from sofacover.parsers import StrictJSONTypes
from tickets import selectors as ticket_selectors
from tickets.api.serializers import AgentEmailField, ErrorSerializer
from tickets.api.views import REFERENCE_PATTERN as TICKET_REFERENCE_PATTERN
from tickets.models import Ticket

from . import reviews
from .models import Component, Incident, IncidentAction, IncidentEvent, IncidentTicket, Review, ReviewItem

REFERENCE_PATTERN = r"INC-[0-9]{6,12}"
MAX_ID = 2_147_483_647
MAX_LINK = 1000  # tickets per link request (the queue's bulk action sends a page at a time)
UPDATE_STATUSES = [(s.value, s.label) for s in Incident.Status if s != Incident.Status.RESOLVED]

ERRORS = {
    400: OpenApiResponse(VALIDATION_ERROR, description="Invalid input: field names with their messages."),
    401: OpenApiResponse(REFUSAL, description="Not signed in."),
    403: OpenApiResponse(REFUSAL, description="Signed in as staff, but not allowed (e.g. outside your tier)."),
    404: OpenApiResponse(REFUSAL, description="No such incident; customers: there is nothing here."),
    409: OpenApiResponse(ErrorSerializer, description="Refused by a rule of the desk: the incident is resolved."),
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


REFERENCE = OpenApiParameter(
    "reference",
    str,
    OpenApiParameter.PATH,
    pattern=rf"^{REFERENCE_PATTERN}$",
    description="The incident's reference, e.g. INC-000042.",
)


class IsDeskStaff(permissions.BasePermission):
    """Agents, managers and admins; customers are told nothing is here (404)."""

    message = gettext_lazy("Only support agents may do this.")

    def has_permission(self, request, view) -> bool:
        if not hasattr(view, request.method.lower()):
            return True  # a method the view does not have: 405, as for everyone
        if not roles.is_agent(request.user):
            raise Http404(gettext("Not found."))
        return True


# --- representations -----------------------------------------------------------------------------


class ActionSerializer(serializers.ModelSerializer):
    done = serializers.SerializerMethodField()

    class Meta:
        model = IncidentAction
        fields = ["id", "text", "position", "done", "done_at"]
        read_only_fields = fields

    def get_done(self, item: IncidentAction) -> bool:
        return item.done_at is not None


@extend_schema_field({"type": "string", "format": "email", "nullable": True})
class PersonEmail(serializers.Field):
    """A person of the desk by their address; null for nobody (or the system)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, person) -> str | None:
        return person.username if person is not None else None


class IncidentSerializer(serializers.ModelSerializer):
    reference = serializers.CharField(read_only=True)
    declared_by = PersonEmail()
    commander = PersonEmail(help_text="The primary responder (the declaration's Assigned).")
    ticket = serializers.SerializerMethodField(help_text="The ticket it was declared from, if any.")
    components = serializers.SerializerMethodField(help_text="Slugs of the affected components.")
    actions = ActionSerializer(many=True, read_only=True)
    linked_tickets = serializers.IntegerField(read_only=True, help_text="How many tickets are linked.")
    mttd_seconds = serializers.SerializerMethodField(help_text="Time to detect: detected_at - started_at.")

    class Meta:
        model = Incident
        fields = [
            "id",
            "reference",
            "severity",
            "title",
            "status",
            "public",
            "source",
            "impact",
            "users_affected",
            "war_room",
            "declared_by",
            "commander",
            "ticket",
            "components",
            "actions",
            "linked_tickets",
            "functionality",
            "expected_resolution",
            "what_happened",
            "resolution",
            "prevention",
            "started_at",
            "detected_at",
            "declared_at",
            "identified_at",
            "monitoring_at",
            "resolved_at",
            "updated_at",
            "next_update_due_at",
            "mttd_seconds",
        ]
        read_only_fields = fields

    def get_ticket(self, incident: Incident) -> str | None:
        return incident.ticket.reference if incident.ticket_id and incident.ticket else None

    @extend_schema_field(serializers.ListField(child=serializers.SlugField()))
    def get_components(self, incident: Incident) -> list[str]:
        return [component.slug for component in incident.components.all()]

    def get_mttd_seconds(self, incident: Incident) -> int:
        return int((incident.detected_at - incident.started_at).total_seconds())


class EventSerializer(serializers.ModelSerializer):
    author = PersonEmail()
    ticket = serializers.SerializerMethodField()

    class Meta:
        model = IncidentEvent
        fields = ["id", "kind", "at", "author", "status", "body", "public", "ticket"]
        read_only_fields = fields

    def get_ticket(self, event: IncidentEvent) -> str | None:
        return event.ticket.reference if event.ticket_id and event.ticket else None


class LinkSerializer(serializers.ModelSerializer):
    ticket = serializers.CharField(source="ticket.reference", read_only=True)
    subject = serializers.CharField(source="ticket.subject", read_only=True)
    ticket_status = serializers.ChoiceField(source="ticket.status", choices=Ticket.Status.choices, read_only=True)
    linked_by = PersonEmail()

    class Meta:
        model = IncidentTicket
        fields = [
            "ticket",
            "subject",
            "ticket_status",
            "linked_at",
            "linked_by",
            "acknowledged_at",
            "resolution_sent_at",
        ]
        read_only_fields = fields


class ReviewItemSerializer(serializers.ModelSerializer):
    owner = PersonEmail()
    done = serializers.SerializerMethodField()

    class Meta:
        model = ReviewItem
        fields = ["id", "phase", "title", "position", "owner", "due_at", "done", "done_at", "notes"]
        read_only_fields = fields

    def get_done(self, item: ReviewItem) -> bool:
        return item.done_at is not None


class ReviewSerializer(serializers.ModelSerializer):
    incident = serializers.CharField(source="incident.reference", read_only=True)
    items = serializers.SerializerMethodField(help_text="The action items, by due time.")

    class Meta:
        model = Review
        fields = ["id", "incident", "opened_at", "completed_at", "document", "items"]
        read_only_fields = fields

    @extend_schema_field(ReviewItemSerializer(many=True))
    def get_items(self, review: Review) -> list[dict]:
        return list(ReviewItemSerializer(reviews.items_of(review), many=True).data)


# --- input ---------------------------------------------------------------------------------------


class ComponentsField(serializers.ListField):
    """Component slugs (``checkout-payments``, ...), each known."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.SlugField(max_length=100))
        kwargs.setdefault("max_length", 50)
        kwargs.setdefault("help_text", "Slugs of the affected components, as the status page lists them.")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        slugs = list(dict.fromkeys(super().to_internal_value(data)))
        found = {c.slug: c for c in Component.objects.filter(slug__in=slugs)}
        unknown = [slug for slug in slugs if slug not in found]
        if unknown:
            raise serializers.ValidationError(gettext("No component %(names)s.") % {"names": ", ".join(unknown)})
        return [found[slug] for slug in slugs]


class IncidentFieldsSerializer(StrictJSONTypes, serializers.Serializer):
    """What the commander may set when declaring and edit later."""

    title = serializers.CharField(max_length=200, help_text="Public: shown on the status page.")
    severity = serializers.ChoiceField(choices=Ticket.Priority.choices)
    impact = serializers.CharField(max_length=2000, help_text="Internal: what is affected.")
    users_affected = serializers.IntegerField(
        min_value=0, max_value=2_147_483_647, required=False, allow_null=True, help_text="Estimated users affected."
    )
    war_room = serializers.CharField(max_length=500, required=False, allow_blank=True, help_text="A link or a place.")
    commander = AgentEmailField(required=False, allow_null=True, help_text="An agent's address (default: you).")
    public = serializers.BooleanField(required=False, help_text="Shown on the public status page (default true).")
    components = ComponentsField(required=False)
    functionality = serializers.CharField(
        max_length=300, required=False, allow_blank=True, help_text="What customers are told is affected."
    )
    expected_resolution = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="The acknowledgment's expected resolution."
    )


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def _not_ancient(value: datetime) -> datetime:
    """A time of this century: before it, time zones had offsets in seconds that no API date-time can carry."""
    if value < EARLIEST:
        raise serializers.ValidationError(gettext("Too far in the past: the desk counts from the year 2000."))
    return value


class DeclareSerializer(IncidentFieldsSerializer):
    started_at = serializers.DateTimeField(required=False, help_text="When the problem began (default: now).")
    detected_at = serializers.DateTimeField(required=False, help_text="When the desk knew (default: now).")
    actions = serializers.ListField(
        child=serializers.CharField(max_length=300), max_length=50, required=False, help_text="Current actions."
    )
    public_message = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="The status page's first update."
    )
    ticket = serializers.RegexField(
        rf"^{TICKET_REFERENCE_PATTERN}$",
        max_length=20,
        required=False,
        help_text="The ticket it is declared from (linked; its customer is acknowledged).",
    )

    def validate_started_at(self, value: datetime) -> datetime:
        return _not_ancient(value)

    def validate_detected_at(self, value: datetime) -> datetime:
        return _not_ancient(value)

    def validate_ticket(self, reference: str) -> Ticket:
        found = ticket_selectors.ticket_list_by_keys(references=[reference], ids=[])
        if not found:
            raise serializers.ValidationError(gettext("No ticket %(reference)s.") % {"reference": reference})
        return found[0]


class EditSerializer(IncidentFieldsSerializer):
    """Any of the fields (PATCH: none is required), and the Resolution Notification's texts."""

    what_happened = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    resolution = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    prevention = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class UpdateSerializer(StrictJSONTypes, serializers.Serializer):
    body = serializers.CharField(max_length=5000, help_text="What is known; customers read a public update.")
    status = serializers.ChoiceField(
        choices=UPDATE_STATUSES, required=False, help_text="The new status (default: unchanged); resolve to close."
    )
    public = serializers.BooleanField(
        default=True,
        help_text="True: on the status page and mailed to subscribers and linked tickets' customers, restarting "
        "the update cadence. False: an internal note (Slack only).",
    )


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": rf"^{TICKET_REFERENCE_PATTERN}$"},
            {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        ],
        "description": "A ticket's reference (SCP-000042) or its id (42).",
    }
)
class TicketKeyField(serializers.Field):
    default_error_messages = {"invalid": gettext_lazy("A ticket's reference such as SCP-000042, or its id.")}

    def to_internal_value(self, data: Any) -> str | int:
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= MAX_ID:
            return data
        if isinstance(data, str) and re.fullmatch(TICKET_REFERENCE_PATTERN, data):
            return data
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


def tickets_for(keys: list[str | int]) -> list[Ticket]:
    """The tickets ``keys`` (references or ids) name, each once, in that order; a 400 naming those that name none."""
    references = [key for key in keys if isinstance(key, str)]
    ids = [key for key in keys if isinstance(key, int)]
    found = ticket_selectors.ticket_list_by_keys(references=references, ids=ids)
    by_key: dict[str | int, Ticket] = {t.reference or "": t for t in found}
    by_key.update((t.pk, t) for t in found)
    missing = [str(key) for key in keys if key not in by_key]
    if missing:
        shown = ", ".join(missing[:20])
        if len(missing) > 20:
            shown += " " + gettext("and %(count)s more") % {"count": len(missing) - 20}
        raise serializers.ValidationError({"tickets": [gettext("No ticket %(references)s.") % {"references": shown}]})
    return list({by_key[key].pk: by_key[key] for key in keys}.values())


class LinkRequestSerializer(StrictJSONTypes, serializers.Serializer):
    tickets = serializers.ListField(
        child=TicketKeyField(),
        min_length=1,
        max_length=MAX_LINK,
        help_text=f"Tickets to link, by reference or id (at most {MAX_LINK} a request).",
    )


class UnlinkRequestSerializer(StrictJSONTypes, serializers.Serializer):
    ticket = TicketKeyField(help_text="The ticket to unlink, by reference or id.")


class ResolveSerializer(StrictJSONTypes, serializers.Serializer):
    what_happened = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    resolution = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    prevention = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    public_message = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, help_text="The status page's last update."
    )


class ActionAddSerializer(StrictJSONTypes, serializers.Serializer):
    text = serializers.CharField(max_length=300)


class ActionTickSerializer(StrictJSONTypes, serializers.Serializer):
    done = serializers.BooleanField()


class UnlinkedSerializer(serializers.Serializer):
    unlinked = serializers.CharField(help_text="The ticket's reference.")


# --- the views -----------------------------------------------------------------------------------


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Incident.Status.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Ticket.Priority.choices)
    open = django_filters.ChoiceFilter(
        choices=[("true", "Not resolved"), ("false", "Resolved")],
        method="filter_open",
        help_text="`true`: not resolved; `false`: resolved.",
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_open(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        if value == "true":
            return queryset.filter(status__in=Incident.OPEN_STATUSES)
        return queryset.filter(status=Incident.Status.RESOLVED)


class IncidentPagination(KeysetPagination):
    """Latest declared first."""

    ordering = ("-declared_at", "-id")


def incident_queryset() -> QuerySet[Incident]:
    return (
        Incident.objects.select_related("commander", "declared_by", "ticket")
        .prefetch_related(
            Prefetch("components", queryset=Component.objects.order_by("position", "name")),
            Prefetch("actions", queryset=IncidentAction.objects.order_by("position", "id")),
        )
        .annotate(linked_tickets=Count("links", distinct=True))
    )


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    usecases: Any = None  # support.usecases (support.api)
    serializer_class = IncidentSerializer
    permission_classes = [IsAuthenticated, IsDeskStaff]
    filterset_class = IncidentFilter
    filter_backends = [django_filters.rest_framework.DjangoFilterBackend]
    pagination_class = IncidentPagination
    lookup_field = "reference"
    lookup_value_regex = REFERENCE_PATTERN

    def get_queryset(self) -> QuerySet[Incident]:
        return incident_queryset()

    def get_object(self) -> Incident:
        number = int(self.kwargs["reference"].split("-", 1)[1])
        incident = incident_queryset().filter(pk=number).first()
        if incident is None:
            raise NotFound(gettext("No such incident."))
        return incident

    def _fresh(self, incident: Incident) -> dict:
        return IncidentSerializer(incident_queryset().get(pk=incident.pk), context=self.get_serializer_context()).data

    @extend_schema(
        summary="Incidents, latest declared first (agents)",
        description="Keyset pages (`next`, `previous`, `results`) as the ticket list. Filter by `status`, "
        "`severity` (repeatable) and `open`.",
        responses={200: IncidentSerializer, **errors(400, 401, 404)},
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One incident (agents)", parameters=[REFERENCE], responses={200: IncidentSerializer, **errors(404)}
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Declare an incident (agents)",
        description=(
            "Opens the incident and sends the procedures' Incident Declaration, every field filled, to Slack "
            "(#support-critical for P0/P1, #support-general for P2/P3) and to the escalation list; a public "
            "incident's first update goes to the status page's subscribers. With `ticket`, that ticket is "
            "linked and its customer acknowledged. The commander defaults to you."
        ),
        request=DeclareSerializer,
        responses={201: IncidentSerializer, **errors(400, 404)},
    )
    def create(self, request: Request) -> Response:
        data = DeclareSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        incident = self.usecases.declare_incident(
            declared_by=request.user, now=timezone.now(), source=Incident.Source.API, **values
        )
        return Response(self._fresh(incident), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit an incident (agents)",
        description="Any of the fields, all or nothing; the timeline says which changed. Nobody is mailed.",
        parameters=[REFERENCE],
        request=EditSerializer,
        responses={200: IncidentSerializer, **errors(400, 404)},
    )
    def partial_update(self, request: Request, reference: str) -> Response:
        incident = self.get_object()
        data = EditSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        incident = self.usecases.incident_edit(
            incident=incident, author=request.user, now=timezone.now(), **data.validated_data
        )
        return Response(self._fresh(incident))

    @extend_schema(
        summary="Post an update or an internal note (agents)",
        description=(
            "A public update (the default) goes on the status page, restarts the update cadence and is mailed "
            "to the linked tickets' customers and the subscribers; every update is posted to Slack."
        ),
        parameters=[REFERENCE],
        request=UpdateSerializer,
        responses={201: EventSerializer, **errors(400, 404, 409)},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def updates(self, request: Request, reference: str) -> Response:
        incident = self.get_object()
        data = UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = self.usecases.incident_update(
            incident=incident, author=request.user, now=timezone.now(), **data.validated_data
        )
        return Response(EventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Link tickets (agents)",
        description=(
            f"Up to {MAX_LINK} tickets a request, by reference or id. Tickets already linked are skipped; the new "
            "links' customers get the Incident Acknowledgment, once per incident and address. Answers the new links."
        ),
        parameters=[REFERENCE],
        request=LinkRequestSerializer,
        responses={200: LinkSerializer(many=True), **errors(400, 404, 409)},
    )
    @action(detail=True, methods=["post"], pagination_class=None, filter_backends=[])
    def link(self, request: Request, reference: str) -> Response:
        incident = self.get_object()
        data = LinkRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tickets = tickets_for(data.validated_data["tickets"])
        links = self.usecases.incident_link(incident=incident, tickets=tickets, by=request.user, now=timezone.now())
        fresh = IncidentTicket.objects.filter(pk__in=[link.pk for link in links]).select_related("ticket", "linked_by")
        return Response(LinkSerializer(fresh, many=True).data)

    @extend_schema(
        summary="Unlink a ticket (agents)",
        description="Its customers hear no more of the incident, and it does not resolve with it. 404 if not linked.",
        parameters=[REFERENCE],
        request=UnlinkRequestSerializer,
        responses={200: UnlinkedSerializer, **errors(400, 404)},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def unlink(self, request: Request, reference: str) -> Response:
        incident = self.get_object()
        data = UnlinkRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        (ticket,) = tickets_for([data.validated_data["ticket"]])
        if not self.usecases.incident_unlink(incident=incident, ticket=ticket, by=request.user, now=timezone.now()):
            raise NotFound(
                gettext("%(reference)s is not linked to %(incident)s.")
                % {"reference": ticket.reference, "incident": incident.reference}
            )
        return Response({"unlinked": ticket.reference})

    @extend_schema(
        summary="Resolve an incident (agents)",
        description=(
            "`what_happened`, `resolution` and `prevention` (required for P0/P1, else 400 on the field) are the "
            "Resolution Notification every linked ticket's customers get; linked tickets still open resolve with "
            "it (a ticket outside your tier: 403 `outside_your_tier`, nothing is resolved)."
        ),
        parameters=[REFERENCE],
        request=ResolveSerializer,
        responses={200: IncidentSerializer, **errors(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def resolve(self, request: Request, reference: str) -> Response:
        incident = self.get_object()
        data = ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = self.usecases.resolve_incident(
            incident=incident, by=request.user, now=timezone.now(), **data.validated_data
        )
        return Response(self._fresh(incident))

    @extend_schema(
        summary="Open the post-incident review (agents)",
        description=(
            "Opens the review of a resolved incident of any severity (P0/P1 incidents get theirs when they "
            "resolve): the procedures' twelve action items, due 2 h, 48 h and 1 week after the resolution on the "
            "severity's calendar, owned by the commander. 201 when it is opened; 200 with the review when the "
            "incident already has one. An incident not resolved yet: 400 on `status`."
        ),
        parameters=[REFERENCE],
        request=None,
        responses={
            201: OpenApiResponse(ReviewSerializer, description="The review, opened now."),
            200: OpenApiResponse(ReviewSerializer, description="The review the incident already had."),
            **errors(400, 401, 404),
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def review(self, request: Request, reference: str) -> Response:
        incident = self.get_object()
        existed = reviews.review_of(incident) is not None
        try:
            review = self.usecases.open_review(incident=incident, by=request.user, now=timezone.now())
        except Conflict as exc:
            # Not resolved yet: a field of the incident's, not a race; the client fixes it by resolving first.
            raise serializers.ValidationError({exc.field or "status": [exc.message]}) from exc
        fresh = Review.objects.select_related("incident").get(pk=review.pk)
        return Response(ReviewSerializer(fresh).data, status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)

    @extend_schema(
        summary="Add a current action (agents)",
        parameters=[REFERENCE],
        request=ActionAddSerializer,
        responses={201: ActionSerializer, **errors(400, 404)},
    )
    @action(detail=True, methods=["post"], url_path="actions", url_name="actions", filter_backends=[])
    def action_add(self, request: Request, reference: str) -> Response:
        incident = self.get_object()
        data = ActionAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = self.usecases.incident_action_add(
            incident=incident, text=data.validated_data["text"], author=request.user, now=timezone.now()
        )
        return Response(ActionSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Tick a current action done, or not done (agents)",
        parameters=[
            REFERENCE,
            OpenApiParameter("action_id", int, OpenApiParameter.PATH, description="The action's id."),
        ],
        request=ActionTickSerializer,
        responses={200: ActionSerializer, **errors(400, 404)},
    )
    @action(
        detail=True,
        methods=["patch"],
        url_path=r"actions/(?P<action_id>[0-9]{1,10})",
        url_name="action",
        filter_backends=[],
    )
    def action_tick(self, request: Request, reference: str, action_id: str) -> Response:
        incident = self.get_object()
        item = incident.actions.filter(pk=int(action_id)).first()
        if item is None:
            raise NotFound(gettext("No such action on this incident."))
        data = ActionTickSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = self.usecases.incident_action_tick(
            action=item, done=data.validated_data["done"], author=request.user, now=timezone.now()
        )
        return Response(ActionSerializer(item).data)

    @extend_schema(
        summary="The linked tickets (agents)",
        parameters=[REFERENCE],
        responses={200: LinkSerializer(many=True), **errors(400, 404)},
    )
    @action(detail=True, methods=["get"], pagination_class=PageNumberPagination, filter_backends=[])
    def tickets(self, request: Request, reference: str) -> Response:
        incident = self.get_object()
        links = incident.links.select_related("ticket", "linked_by").order_by("linked_at", "id")
        page = self.paginate_queryset(links)
        return self.get_paginated_response(LinkSerializer(page, many=True).data)

    @extend_schema(
        summary="The incident's timeline, internal notes included (agents)",
        parameters=[REFERENCE],
        responses={200: EventSerializer(many=True), **errors(400, 404)},
    )
    @action(detail=True, methods=["get"], pagination_class=PageNumberPagination, filter_backends=[])
    def timeline(self, request: Request, reference: str) -> Response:
        incident = self.get_object()
        events = incident.events.select_related("author", "ticket").order_by("at", "id")
        page = self.paginate_queryset(events)
        return self.get_paginated_response(EventSerializer(page, many=True).data)
