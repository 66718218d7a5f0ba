"""The reports page, CSV exports and API: who may read them, what they say, what they cost."""

from __future__ import annotations

import csv
import io
import math
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation import selectors as sla_selectors
from escalation.selectors import BOOK_TTL_SECONDS
from support import usecases
from tests.tickets.factories import make_user
from tickets.models import Ticket

from .world import NOW, RANGE, build_p1_fortnight, open_ticket, reply, resolve

pytestmark = pytest.mark.django_db
Q = "?from=2026-03-02&to=2026-03-15"
PAGES = ["/reports/", "/reports/scorecard.csv", "/reports/offenders.csv"]
APIS = ["/api/v1/reports/sla/", "/api/v1/reports/satisfaction/", "/api/v1/reports/summary/"]


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


class TestWhoMayRead:
    @pytest.mark.parametrize("path", PAGES)
    def test_pages_and_csv(self, client, path, customer, agent, manager, admin_user):
        assert client.get(path).status_code == 302
        assert "/login/" in client.get(path)["Location"]
        for user, status in [(customer, 404), (agent, 403), (manager, 200), (admin_user, 200)]:
            client.force_login(user)
            assert client.get(path + Q).status_code == status, user

    @pytest.mark.parametrize("path", APIS)
    def test_api(self, api_client_for, path, customer, agent, manager, admin_user):
        for user, status in [(None, 401), (customer, 404), (agent, 403), (manager, 200), (admin_user, 200)]:
            assert api_client_for(user).get(path + Q).status_code == status, user

    def test_it_is_the_permission_that_opens_them(self, client, api_client_for, agent):
        agent.user_permissions.add(Permission.objects.get(codename="view_reports"))
        agent = type(agent).objects.get(pk=agent.pk)
        client.force_login(agent)
        assert client.get("/reports/").status_code == 200
        assert api_client_for(agent).get(APIS[0]).status_code == 200

    def test_a_customer_holding_the_permission_still_sees_nothing(self, client, customer):
        customer.user_permissions.add(Permission.objects.get(codename="view_reports"))
        client.force_login(customer)
        assert client.get("/reports/").status_code == 404

    def test_only_managers_see_the_link_in_the_portal(self, client, customer, agent, manager):
        for user, shown in [(customer, False), (agent, False), (manager, True)]:
            client.force_login(user)
            assert ('href="/reports/"' in client.get("/").content.decode()) is shown, user


class TestBadInput:
    @pytest.mark.parametrize("query", ["?from=2026-13-01", "?to=soon", "?from=2026-03-10&to=2026-03-01", "?tier=7"])
    def test_bad_filters_are_400_everywhere(self, client, api_client_for, manager, query):
        client.force_login(manager)
        assert client.get("/reports/" + query).status_code == 400
        assert client.get("/reports/sla.csv" + query).status_code == 400
        for path in APIS:
            response = api_client_for(manager).get(path + query)
            assert response.status_code == 400
            assert response.json()["code"] == "invalid"

    def test_an_unknown_table_is_404(self, client, manager):
        client.force_login(manager)
        assert client.get("/reports/secrets.csv").status_code == 404


@pytest.fixture
def fortnight(customer, agent):
    return build_p1_fortnight(customer, agent)


class TestApiShapes:
    def test_sla(self, api_client_for, manager, fortnight):
        body = api_client_for(manager).get(APIS[0], RANGE).json()
        assert set(body) == {"from", "to", "priorities"}
        assert (body["from"], body["to"]) == ("2026-03-02", "2026-03-15")
        assert [row["priority"] for row in body["priorities"]] == ["P0", "P1", "P2", "P3"]
        p0, p1 = body["priorities"][0], body["priorities"][1]
        assert set(p1) == {
            "priority",
            "tickets",
            "responded_within_target",
            "response_target_share",
            "resolved_within_target",
            "resolution_target_share",
            "response_breaches",
            "resolution_breaches",
            "median_first_response_seconds",
            "median_resolution_seconds",
        }
        assert p1["tickets"] == 6
        assert p1["responded_within_target"] == pytest.approx(0.6667, abs=1e-4)
        assert p1["resolved_within_target"] == 0.8
        assert (p1["response_breaches"], p1["resolution_breaches"]) == (2, 1)
        assert (p1["median_first_response_seconds"], p1["median_resolution_seconds"]) == (1200, 14400)
        assert p0["response_target_share"] == 1.0
        assert p0["responded_within_target"] is None

    def test_satisfaction(self, api_client_for, manager, fortnight):
        body = api_client_for(manager).get(APIS[1], RANGE).json()
        assert body == {
            "from": "2026-03-02",
            "to": "2026-03-15",
            "csat_average": 4.0,
            "csat_target": 4.5,
            "ratings": 3,
            "resolved_tickets": 5,
            "survey_response_rate": 0.6,
            "first_contact_resolution_rate": 0.8,
            "distribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1},
        }

    def test_summary_has_every_metric_with_target_and_met(self, api_client_for, manager, fortnight):
        body = api_client_for(manager).get(APIS[2], RANGE).json()
        metrics = {m["key"]: m for m in body["metrics"]}
        assert metrics["csat_average"] | {} == {
            "key": "csat_average",
            "label": "CSAT average (1 to 5)",
            "value": 4.0,
            "unit": "score",
            "target": 4.5,
            "comparison": ">",
            "met": False,
            "available": True,
        }
        assert metrics["first_contact_resolution_rate"]["met"] is True
        assert metrics["mttd_seconds"] | {} == {
            "key": "mttd_seconds",
            "label": "MTTD, mean time to detect (incidents: detected - started)",
            "value": None,  # no incident in this fortnight
            "unit": "seconds",
            "target": 300.0,
            "comparison": "<",
            "met": None,
            "available": True,
        }
        assert {"incident_mttr_p0_p1_seconds", "incidents_P0", "review_items_on_time"} <= set(metrics)
        assert {f"response_within_target_{p}" for p in ("P0", "P1", "P2", "P3")} <= set(metrics)
        assert {"p90_first_response_seconds", "p90_resolution_seconds", "backlog_open_tickets"} <= set(metrics)

    def test_no_data_is_nulls(self, api_client_for, manager):
        body = api_client_for(manager).get(APIS[1], RANGE).json()
        assert body["csat_average"] is None
        assert body["survey_response_rate"] is None
        assert body["resolved_tickets"] == 0

    def test_filters_apply(self, api_client_for, manager, fortnight):
        body = api_client_for(manager).get(APIS[0], {**RANGE, "category": "payment"}).json()
        assert sum(row["tickets"] for row in body["priorities"]) == 0

    def test_documented_in_the_schema(self, api_client_for, manager):
        schema = api_client_for(manager).get("/api/v1/schema/?format=json").json()
        for path in APIS:
            operation = schema["paths"][path]["get"]
            assert {"from", "to", "priority", "tier", "category", "channel", "agent"} <= {
                p["name"] for p in operation["parameters"]
            }
            assert {"200", "400", "403", "404"} <= set(operation["responses"])
        sla = schema["components"]["schemas"]["SlaReport"]
        assert set(sla["properties"]) == {"from", "to", "priorities"}


class TestPage:
    def test_scorecard_is_green_and_red_with_drilldown_from_red(self, client, manager, fortnight):
        client.force_login(manager)
        html = client.get("/reports/" + Q).content.decode()
        assert re.search(r'class="metric-missed" data-metric="response_within_target_P1"', html)
        assert re.search(r'class="metric-met" data-metric="first_contact_resolution_rate"', html)
        assert re.search(r'class="metric-info" data-metric="response_within_target_P2"', html)
        row = re.search(r'data-metric="response_within_target_P1">.*?</tr>', html, re.S)
        assert row is not None
        link = re.search(r'href="([^"]+)"', row.group(0))
        assert link is not None
        href = link.group(1).replace("&amp;", "&")
        assert href.startswith("/admin/tickets/ticket/?")
        assert "priority__exact=P1" in href
        # The drill-down opens the console queue with exactly the tickets behind the cell.
        queue = client.get(href)
        assert queue.status_code == 200
        shown = {int(pk) for pk in re.findall(r"/admin/tickets/ticket/(\d+)/change/", queue.content.decode())}
        created = {t.pk for t in (fortnight.a, fortnight.b, fortnight.c, fortnight.d, fortnight.e, fortnight.g)}
        assert shown == created

    def test_green_cells_have_no_drilldown(self, client, manager, fortnight):
        client.force_login(manager)
        html = client.get("/reports/" + Q).content.decode()
        row = re.search(r'data-metric="first_contact_resolution_rate">.*?</tr>', html, re.S)
        assert row is not None
        assert "/admin/tickets/ticket/" not in row.group(0)

    def test_charts_use_the_vendored_library_and_no_inline_script(self, client, manager, fortnight):
        client.force_login(manager)
        response = client.get("/reports/" + Q)
        html = response.content.decode()
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert any("reports/vendor/chart.umd.min.js" in attrs for attrs, _ in scripts)
        assert any("reports/reports.js" in attrs for attrs, _ in scripts)
        for attrs, _body in scripts:
            assert "src=" in attrs or 'type="application/json"' in attrs
        assert 'id="report-chart-data"' in html
        assert "cdn" not in html.lower()
        assert "script-src 'self'" in response["Content-Security-Policy"]

    def test_the_page_says_how_things_are_counted(self, client, manager):
        client.force_login(manager)
        html = client.get("/reports/").content.decode()
        assert "wall-clock" in html
        assert "Europe/London" in html

    def test_vendored_chart_library_is_served_locally(self):
        from django.contrib.staticfiles import finders

        assert finders.find("reports/vendor/chart.umd.min.js")
        assert finders.find("reports/vendor/chart.js-LICENSE.md")
        assert finders.find("reports/reports.js")


class TestCsv:
    def rows(self, client, table: str, query: str = Q) -> list[list[str]]:
        response = client.get(f"/reports/{table}.csv{query}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        return list(csv.reader(io.StringIO(response.content.decode())))

    @pytest.mark.parametrize(
        "table", ["scorecard", "sla", "satisfaction", "backlog", "escalations", "offenders", "trends"]
    )
    def test_every_table_exports(self, client, manager, fortnight, table):
        client.force_login(manager)
        rows = self.rows(client, table)
        assert len(rows) >= 2

    def test_sla_csv_matches_the_api(self, client, manager, fortnight):
        client.force_login(manager)
        header, *rows = self.rows(client, "sla")
        p1 = dict(zip(header, rows[1], strict=True))
        assert (p1["priority"], p1["tickets_created"], p1["response_breaches"]) == ("P1", "6", "2")

    @pytest.mark.parametrize(
        "subject",
        ['=HYPERLINK("http://x","y")', "@SUM(1)", "+1", "-1", "\tleading tab", "\rleading CR"],
    )
    def test_formula_cells_are_neutralised(self, client, manager, customer, subject):
        at = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
        ticket = usecases.file_ticket(requester=customer, subject="x", description="d", priority="P0", now=at)
        Ticket.objects.filter(pk=ticket.pk).update(subject=subject)  # as an import might store it
        usecases.sla_sweep(now=NOW)
        client.force_login(manager)
        header, *rows = self.rows(client, "offenders")
        subjects = [dict(zip(header, row, strict=True))["subject"] for row in rows]
        assert subjects
        assert subjects == ["'" + subject, "'" + subject], subjects  # late response and late resolution


class LoadedHostClock:
    """escalation.selectors' monotonic clock, which a test can move on: as on a loaded host, where
    more than the policy book's TTL may pass between two requests."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


class TestQueryCounts:
    """The page and the summary API spend a fixed number of queries whatever the number of tickets.

    What a request reads once per process is read before the measurement and kept through it:
    the policy book (escalation.selectors.policy_book, kept BOOK_TTL_SECONDS) once counted 5 queries
    more (16 for 11) when its 30 seconds ran out between the warm-up and the measured request on a
    loaded host. Pinned here (read fresh at each warm-up, then kept however long the requests take),
    so only what a request itself reads is counted."""

    @pytest.fixture(autouse=True)
    def clock(self, monkeypatch) -> LoadedHostClock:
        clock = LoadedHostClock()
        monkeypatch.setattr(sla_selectors, "_time", clock)
        monkeypatch.setattr(sla_selectors, "BOOK_TTL_SECONDS", math.inf)
        return clock

    def desk(self, customer, agent, n: int) -> None:
        start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        for i in range(n):
            at = start + timedelta(hours=5 * i)
            ticket = open_ticket(customer, at, priority=("P0", "P1", "P2", "P3")[i % 4])
            if i % 3:
                reply(ticket, agent, at + timedelta(minutes=20 + i))
            if i % 2:
                resolve(ticket, agent, at + timedelta(hours=3))
                usecases.rate(ticket=ticket, actor=customer, score=1 + i % 5, now=at + timedelta(hours=4))

    def counts(self, client, api_client_for, manager, *, between=lambda: None) -> tuple[int, int]:
        client.force_login(manager)
        api = api_client_for(manager)
        sla_selectors.policy_book_forget()  # the warm-up reads the desk's policies as they are now
        client.get("/reports/" + Q)  # warm the policy book and the permission caches
        api.get(APIS[2] + Q)
        between()
        with CaptureQueriesContext(connection) as page:
            assert client.get("/reports/" + Q).status_code == 200
        with CaptureQueriesContext(connection) as summary:
            assert api.get(APIS[2] + Q).status_code == 200
        return len(page), len(summary)

    def test_constant_in_the_number_of_tickets(
        self, client, api_client_for, customer, agent, manager, django_assert_max_num_queries, clock
    ):
        self.desk(customer, agent, 5)
        few = self.counts(client, api_client_for, manager)
        assert Ticket.objects.count() == 5
        self.desk(make_user("carol@example.com"), agent, 45)
        assert Ticket.objects.count() == 50

        def a_loaded_host() -> None:  # more than the book's TTL between the warm-up and the measurement
            clock.offset += BOOK_TTL_SECONDS + 1

        many = self.counts(client, api_client_for, manager, between=a_loaded_host)
        assert many == few
        client.force_login(manager)
        with django_assert_max_num_queries(few[0]):
            client.get("/reports/" + Q)
        with django_assert_max_num_queries(few[1]):
            api_client_for(manager).get(APIS[2] + Q)
