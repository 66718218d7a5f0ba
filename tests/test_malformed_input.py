"""Hostile input is a 400 (or a 404) with a clear message, never a 500: on SQLite and on PostgreSQL.

The families an outside review found answering 500: deeply nested JSON (the
decoder's RecursionError), searches with digits that are not ASCII (``²``:
``str.isdigit()`` then ``int()``), and NUL characters, which PostgreSQL refuses
in every text value (so those were 500s on PostgreSQL only). Each case names
its door (API, portal, console, reports) and the role that knocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from sofacover import parsers
from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import T0
from tickets import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

# What Django's and DRF's fields say about a NUL character; the desk says the same everywhere.
NUL_MESSAGE = "Null characters are not allowed."


@dataclass
class World:
    users: dict
    ticket: Ticket

    def client(self, role: str) -> Client:
        client = Client()
        if self.users[role] is not None:
            client.force_login(self.users[role])
        return client


@pytest.fixture
def world(customer, agent, manager) -> World:
    ticket = services.ticket_open(
        requester=customer, subject="Zip broke on day two", description="The zip came off.", now=T0
    )
    services.ticket_resolve(ticket=ticket, actor=agent, now=T0)
    ArticleFactory(title="How do I wash my cover?", slug="wash-cover")
    return World(users={"anonymous": None, "customer": customer, "agent": agent, "manager": manager}, ticket=ticket)


def url(world: World, template: str) -> str:
    return template.format(ref=world.ticket.reference)


# --- deeply nested JSON ---------------------------------------------------------------------

JSON_ENDPOINTS = [
    ("anonymous", "post", "/api/v1/auth/token/"),
    ("customer", "post", "/api/v1/tickets/"),
    ("agent", "patch", "/api/v1/tickets/{ref}/"),
    ("agent", "post", "/api/v1/tickets/{ref}/assign/"),
    ("customer", "post", "/api/v1/tickets/{ref}/rating/"),
    ("customer", "post", "/api/v1/tickets/{ref}/messages/"),
    ("customer", "post", "/api/v1/tickets/{ref}/escalate/"),
    ("manager", "post", "/api/v1/articles/"),
    ("manager", "patch", "/api/v1/articles/wash-cover/"),
    ("customer", "post", "/api/v1/articles/wash-cover/vote/"),
]


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth if depth % 2 else "[" * depth + "]" * depth


class TestNestedJson:
    @pytest.mark.parametrize("depth", [10_001, parsers.MAX_DEPTH + 8], ids=["past-the-decoder", "past-the-bound"])
    @pytest.mark.parametrize(("role", "method", "path"), JSON_ENDPOINTS, ids=[e[2] for e in JSON_ENDPOINTS])
    def test_is_refused_with_a_400_that_says_why(self, world, role, method, path, depth):
        response = getattr(world.client(role), method)(url(world, path), nested(depth), content_type="application/json")
        assert response.status_code == 400, response.content[:300]
        assert "nested deeper" in response.json()["detail"]

    def test_as_deep_as_the_bound_still_reaches_the_fields(self, world):
        body = '{"subject": ' + "[" * (parsers.MAX_DEPTH - 1) + "]" * (parsers.MAX_DEPTH - 1) + "}"
        response = world.client("customer").post("/api/v1/tickets/", body, content_type="application/json")
        assert response.status_code == 400
        assert "subject" in response.json()

    def test_every_api_view_reads_json_with_the_bounded_parser(self):
        views = list(_api_views(get_resolver()))
        assert len(views) > 10
        for view in views:
            json_parsers = [p for p in view.parser_classes if p.media_type == "application/json"]
            assert json_parsers, view
            assert all(issubclass(p, parsers.JSONParser) for p in json_parsers), view


def _api_views(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/"):
            view = getattr(pattern.callback, "cls", None)
            if view is not None and issubclass(view, APIView) and "schema" not in route and "docs" not in route:
                yield view


# --- digits that are not ASCII ----------------------------------------------------------------

SEARCHES = [
    ("agent", "/api/v1/tickets/?search={q}"),
    ("customer", "/api/v1/tickets/?search={q}"),
    ("agent", "/admin/tickets/ticket/?q={q}"),
    ("anonymous", "/kb/search/?q={q}"),
    ("anonymous", "/api/v1/articles/?q={q}"),
    ("agent", "/api/v1/articles/?q={q}"),
    ("anonymous", "/api/v1/articles/suggest/?q={q}"),
]


class TestSearchWithDigitsThatAreNotAscii:
    @pytest.mark.parametrize("q", ["¹", "²", "①", "٣", "SCP-²"])
    @pytest.mark.parametrize(("role", "path"), SEARCHES, ids=[f"{r}:{p.split('?')[0]}" for r, p in SEARCHES])
    def test_is_an_ordinary_search(self, world, role, path, q):
        response = world.client(role).get(path.format(q=q))
        assert response.status_code == 200, response.content[:300]

    def test_a_ticket_number_in_ascii_digits_still_finds_the_ticket(self, world):
        response = world.client("agent").get(f"/api/v1/tickets/?search={world.ticket.pk}")
        assert [t["reference"] for t in response.json()["results"]] == [world.ticket.reference]


# --- NUL characters ----------------------------------------------------------------------------

NUL_IN_PATH = [
    ("customer", "get", "/tickets/%00/"),
    ("customer", "post", "/tickets/%00/reply/"),
    ("customer", "post", "/tickets/%00/resolve/"),
    ("customer", "post", "/tickets/%00/reopen/"),
    ("customer", "post", "/tickets/%00/rating/"),
    ("customer", "post", "/tickets/%00/escalate/"),
    ("customer", "get", "/api/v1/tickets/%00/"),
    ("customer", "get", "/api/v1/tickets/%00/messages/"),
    ("customer", "post", "/api/v1/tickets/%00/messages/"),
    ("customer", "post", "/api/v1/tickets/%00/escalate/"),
    ("agent", "get", "/api/v1/tickets/SCP-%00/timeline/"),
    ("agent", "post", "/api/v1/tickets/%00/escalate/"),
    ("agent", "get", "/api/v1/articles/%00/"),
    ("agent", "post", "/console/tickets/%00/template-reply/"),
    ("agent", "get", "/admin/tickets/ticket/%00/change/"),
    ("anonymous", "get", "/kb/%00/"),
]

NUL_IN_QUERY = [
    ("agent", "/api/v1/tickets/?assignee=%00", "assignee"),
    ("agent", "/api/v1/tickets/?assignee=tier1%40sofacoverpro.com%00", "assignee"),
    ("agent", "/api/v1/tickets/?search=SCP-%00", "search"),
    ("manager", "/api/v1/reports/sla/?agent=%00", "agent"),
    ("manager", "/api/v1/reports/summary/?agent=manager%40sofacoverpro.com%00", "agent"),
    ("manager", "/api/v1/reports/satisfaction/?agent=%00", "agent"),
    ("anonymous", "/api/v1/articles/?tag=%00", "tag"),
    ("agent", "/admin/tickets/ticket/?assignee=%00", "assignee"),
    ("agent", "/admin/tickets/ticket/?assignee=a%00b", "assignee"),
    ("agent", "/admin/tickets/ticket/?priority__exact=%00", "priority__exact"),
    ("agent", "/admin/tickets/ticket/?q=%00", "q"),
    ("manager", "/reports/?agent=%00", "agent"),
    ("manager", "/reports/sla.csv?agent=%00", "agent"),
    ("anonymous", "/kb/search/?q=%00", "q"),
]


class TestNulCharacters:
    @pytest.mark.parametrize(("role", "method", "path"), NUL_IN_PATH, ids=[f"{m}:{p}" for _, m, p in NUL_IN_PATH])
    def test_in_a_ticket_reference_or_slug_is_a_400(self, world, role, method, path):
        response = getattr(world.client(role), method)(path)
        assert response.status_code == 400, response.content[:300]
        assert "NUL character" in response.content.decode()

    @pytest.mark.parametrize(("role", "path", "field"), NUL_IN_QUERY, ids=[p for _, p, _ in NUL_IN_QUERY])
    def test_in_a_filter_or_search_is_a_400_naming_the_parameter(self, world, role, path, field):
        response = world.client(role).get(path)
        assert response.status_code == 400, response.content[:300]
        if path.startswith("/api/"):
            assert response.json()[field] == [NUL_MESSAGE]
        else:
            assert f"“{field}”" in response.content.decode()

    def test_in_a_console_form_field_is_a_400_naming_the_field(self, world):
        response = world.client("agent").post(
            f"/console/tickets/{world.ticket.reference}/template-reply/", {"template": "\x00", "body": "hi"}
        )
        assert response.status_code == 400
        assert "“template”" in response.content.decode()

    def test_in_a_token_form_is_a_400_naming_the_field(self, world):
        body = urlencode({"username": "alice@example.com\x00", "password": "x"})
        response = Client().post("/api/v1/auth/token/", body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 400
        assert response.json() == {"username": [NUL_MESSAGE]}

    def test_in_an_api_token_is_a_400(self, world):
        response = Client().get("/api/v1/tickets/", HTTP_AUTHORIZATION="Token abc\x00def")
        assert response.status_code == 400
        assert "Authorization header" in response.json()["detail"]

    def test_in_a_session_cookie_is_a_400_before_the_session_is_looked_up(self, world):
        response = Client().get("/tickets/", HTTP_COOKIE="sessionid=abcdefghij\x00klmnop")
        assert response.status_code == 400
        assert "Cookie header" in response.content.decode()

    def test_in_a_json_body_is_refused_by_the_field_that_reads_it(self, world):
        response = world.client("customer").post(
            "/api/v1/tickets/", {"subject": "a\x00b", "description": "x"}, content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json() == {"subject": [NUL_MESSAGE]}

    def test_nowhere_leaves_the_request_alone(self, world):
        response = world.client("agent").get("/api/v1/tickets/?search=zip%2500")
        assert response.status_code == 200


class TestDjangoLimits:
    def test_too_many_files_is_a_400_in_json_under_the_api(self, world, settings):
        from django.core.files.uploadedfile import SimpleUploadedFile

        files = [
            SimpleUploadedFile(f"n{i}.txt", b"note", content_type="text/plain")
            for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
        ]
        response = world.client("customer").post(
            f"/api/v1/tickets/{world.ticket.reference}/messages/", {"body": "files", "attachments": files}
        )
        assert response.status_code == 400
        assert response.json()["detail"].startswith("Too many files")


# --- values of the wrong type or shape ---------------------------------------------------------

WRONG_TYPES = [
    ("customer", "post", "/api/v1/tickets/", {"subject": 0, "description": "x"}, "subject", "Must be a string."),
    ("customer", "post", "/api/v1/tickets/", {"subject": "x", "description": "x", "priority": 1}, "priority", None),
    ("agent", "patch", "/api/v1/tickets/{ref}/", {"tier": "2"}, "tier", "Must be a whole number."),
    ("agent", "patch", "/api/v1/tickets/{ref}/", {"tier": True}, "tier", "Must be a whole number."),
    ("agent", "post", "/api/v1/tickets/{ref}/assign/", {"assignee": 7}, "assignee", "Must be a string."),
    ("customer", "post", "/api/v1/tickets/{ref}/messages/", {"body": "x", "internal": "false"}, "internal", None),
    ("customer", "post", "/api/v1/tickets/{ref}/rating/", {"score": "5"}, "score", "Must be a whole number."),
    ("customer", "post", "/api/v1/tickets/{ref}/rating/", {"score": 4.0}, "score", "Must be a whole number."),
    ("customer", "post", "/api/v1/tickets/{ref}/escalate/", {"reason": "customer_request", "note": 0}, "note", None),
    (
        "agent",
        "post",
        "/api/v1/tickets/{ref}/escalate/",
        {"reason": "technical_complexity", "from_tier": "1"},
        "from_tier",
        None,
    ),
]


class TestJsonValuesOfTheWrongType:
    @pytest.mark.parametrize(
        ("role", "method", "path", "body", "field", "message"), WRONG_TYPES, ids=[f"{w[2]}:{w[4]}" for w in WRONG_TYPES]
    )
    def test_are_a_400_naming_the_field_not_coerced(self, world, role, method, path, body, field, message):
        response = getattr(world.client(role), method)(url(world, path), body, content_type="application/json")
        assert response.status_code == 400, response.content[:300]
        assert list(response.json()) == [field]
        if message:
            assert response.json()[field] == [message]

    def test_form_bodies_keep_their_text_values(self, world):
        response = world.client("customer").post(
            f"/api/v1/tickets/{world.ticket.reference}/messages/", {"body": "still there?", "internal": "false"}
        )
        assert response.status_code == 201, response.content[:300]


EMPTY_OR_LOOSE_PARAMETERS = [
    ("agent", "/api/v1/articles/?audience=", "audience"),
    ("manager", "/api/v1/reports/sla/?to=", "to"),
    ("manager", "/api/v1/reports/summary/?priority=", "priority"),
    ("manager", "/api/v1/reports/satisfaction/?tier=%20", "tier"),
    ("manager", "/api/v1/reports/sla/?from=20260301", "from"),
    ("manager", "/api/v1/reports/sla/?from=2026-W10-1", "from"),
    ("agent", "/api/v1/articles/suggest/?q=%20%20", "q"),
    ("agent", "/api/v1/tickets/?page_size=0", "page_size"),
]


class TestQueryParametersOutsideTheirSchema:
    @pytest.mark.parametrize(
        ("role", "path", "field"), EMPTY_OR_LOOSE_PARAMETERS, ids=[p for _, p, _ in EMPTY_OR_LOOSE_PARAMETERS]
    )
    def test_are_a_400_naming_the_parameter(self, world, role, path, field):
        response = world.client(role).get(path)
        assert response.status_code == 400, response.content[:300]
        assert field in response.json()

    @pytest.mark.parametrize(
        "path", ["/api/v1/tickets/scp-000001/", "/api/v1/tickets/SCP-1/messages/", "/api/v1/tickets/SCP-²²²²²²/"]
    )
    def test_a_reference_outside_the_documented_pattern_is_a_404(self, world, path):
        response = world.client("agent").get(path)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
