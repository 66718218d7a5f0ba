"""The console's home for agents: counts and short lists of what is theirs to do, in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications.models import Notification
from support import home
from tests.tickets.factories import TicketFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

HOME = "/admin/"
# Session, user, their groups and permissions (one read), the four counts (each capped at the queue's 1,000),
# four short lists, the unread notifications count and their list: twelve, whatever the number of tickets.
HOME_MAX_QUERIES = 12

NO_CLOCKS = {
    "first_response_due_at": None,
    "first_response_warn_at": None,
    "resolution_due_at": None,
    "resolution_warn_at": None,
}


def ticket(**fields) -> Ticket:
    """An active ticket without running SLA clocks unless ``fields`` set them."""
    created = TicketFactory(subject=fields.pop("subject", "Sofa cover"))
    Ticket.objects.filter(pk=created.pk).update(**(NO_CLOCKS | fields))
    return Ticket.objects.get(pk=created.pk)


def notify(user, subject: str, n: int, *, read: bool = False) -> Notification:
    now = timezone.now()
    return Notification.objects.create(
        channel=Notification.Channel.DASHBOARD,
        kind=Notification.Kind.BREACH_WARNING,
        recipient=user.username,
        user=user,
        subject=subject,
        body=subject,
        dedupe_key=f"test-home-{user.pk}-{n}",
        status=Notification.Status.SENT,
        next_attempt_at=now,
        created_at=now - timedelta(minutes=n),
        sent_at=now,
        read_at=now if read else None,
    )


def section(html: str, key: str) -> str:
    start = html.index(f'id="home-{key}"')
    return html[start : html.index("</section>", start)]


def count_in(html: str, key: str) -> int:
    part = section(html, key)
    start = part.index('class="console-home-count')
    return int(part[part.index(">", start) + 1 : part.index("</span>", start)])


def breached_list_reads(client: Client) -> tuple[str, list[str]]:
    """The home's HTML, and the statements that read its breached list (not its count, not due soon's)."""
    with CaptureQueriesContext(connection) as captured:
        html = client.get(HOME).content.decode()
    late = '"tickets_ticket"."first_responded_at" > ("tickets_ticket"."first_response_due_at")'
    wheres = [q["sql"].partition(" WHERE ") for q in captured.captured_queries]
    return html, [  # due soon's condition names the warnings
        "".join(sql)
        for sql in wheres
        if late in sql[2] and "_warn_at" not in sql[2] and not sql[2].endswith(f"LIMIT {home.COUNT_CAP + 1}")
    ]


@pytest.fixture
def desk(agent, tier2_agent):
    """A tier-1 agent's desk: one ticket of theirs, one at risk, one breached, unassigned ones in tiers 1 and 3."""
    now = timezone.now()
    return {
        "mine": ticket(subject="Zip broke on my cover", assignee=agent),
        "at_risk": ticket(
            subject="Refund for a torn cover",
            first_response_warn_at=now - timedelta(minutes=5),
            first_response_due_at=now + timedelta(minutes=10),
            assignee=tier2_agent,
        ),
        "breached": ticket(
            subject="Cover never arrived",
            first_response_due_at=now - timedelta(hours=1),
            assignee=tier2_agent,
        ),
        "tier3_breached": ticket(
            subject="Chargeback dispute", tier=3, first_response_due_at=now - timedelta(hours=2), assignee=tier2_agent
        ),
        "unassigned": ticket(subject="Wrong colour delivered"),
        "unassigned_tier3": ticket(subject="Legal question", tier=3),
        "resolved": ticket(
            subject="Old resolved one",
            assignee=agent,
            status=Ticket.Status.RESOLVED,
            resolved_at=now,
            first_response_due_at=now - timedelta(hours=3),
        ),
    }


class TestAgentHome:
    def test_an_agent_sees_counts_and_lists_of_their_work_not_the_app_list(self, client: Client, agent, desk):
        notify(agent, "Cover never arrived breaches in 10 min", 1)
        notify(agent, "Old news", 2, read=True)
        client.force_login(agent)

        response = client.get(HOME)

        html = response.content.decode()
        assert response.status_code == 200
        assert 'class="app-tickets module' not in html  # not the admin's app list
        assert "All console pages" not in html  # agents get no link to it
        assert count_in(html, "mine") == 1
        assert "Zip broke on my cover" in section(html, "mine")
        assert "Old resolved one" not in html
        assert count_in(html, "due_soon") == 1
        assert "Refund for a torn cover" in section(html, "due_soon")
        # Breached: those a tier-1 agent may work, not the tier-3 one.
        assert count_in(html, "breached") == 1
        assert "Cover never arrived" in section(html, "breached")
        assert "Chargeback dispute" not in section(html, "breached")
        assert count_in(html, "unassigned") == 1
        assert "Unassigned in my tier" in section(html, "unassigned")
        assert "Wrong colour delivered" in section(html, "unassigned")
        assert "Legal question" not in section(html, "unassigned")
        assert count_in(html, "notifications") == 1  # unread
        assert "Cover never arrived breaches in 10 min" in section(html, "notifications")
        assert "Old news" in section(html, "notifications")
        # Each heading opens the queue filtered the same way.
        assert 'href="/admin/tickets/ticket/?assignee=me"' in section(html, "mine")
        assert 'href="/admin/tickets/ticket/?sla=breached"' in section(html, "breached")
        assert 'href="/admin/tickets/ticket/?assignee=none&amp;tier__exact=1"' in section(html, "unassigned")

    def test_the_queue_links_list_what_the_home_counts(self, client: Client, agent, desk):
        client.force_login(agent)
        html = client.get(HOME).content.decode()

        breached = client.get("/admin/tickets/ticket/?sla=breached").content.decode()
        mine = client.get("/admin/tickets/ticket/?assignee=me").content.decode()

        assert "Cover never arrived" in breached
        assert "Zip broke on my cover" in mine
        assert "Refund for a torn cover" not in mine
        assert count_in(html, "mine") == 1

    def test_a_manager_sees_every_tier_and_keeps_a_link_to_the_app_list(self, client: Client, manager, desk):
        client.force_login(manager)

        html = client.get(HOME).content.decode()
        apps = client.get(HOME, {"apps": "1"}).content.decode()

        assert count_in(html, "breached") == 2
        assert count_in(html, "unassigned") == 2
        assert "Unassigned in my tier" not in html
        assert 'href="?apps=1"' in html
        assert 'class="app-tickets module' in apps
        assert 'id="home-mine"' not in apps

    def test_a_section_with_nothing_in_it_reads_no_list(self, client: Client, agent, desk):
        client.force_login(agent)
        html, reads = breached_list_reads(client)
        assert count_in(html, "breached") == 1
        assert len(reads) == 1

        desk["breached"].first_response_due_at = timezone.now() + timedelta(hours=1)
        desk["breached"].save(update_fields=["first_response_due_at"])
        html, reads = breached_list_reads(client)
        assert count_in(html, "breached") == 0
        assert "No open ticket is past its deadline." in section(html, "breached")
        assert reads == []

    def test_costs_the_same_queries_with_ten_times_the_tickets(
        self, client: Client, agent, desk, django_assert_max_num_queries
    ):
        client.force_login(agent)
        client.get(HOME)
        with django_assert_max_num_queries(HOME_MAX_QUERIES) as few:
            client.get(HOME)
        for n in range(40):
            ticket(subject=f"More work {n}", assignee=agent if n % 2 else None)
            notify(agent, f"Alert {n}", 10 + n)
        with django_assert_max_num_queries(HOME_MAX_QUERIES) as many:
            html = client.get(HOME).content.decode()

        assert len(many.captured_queries) == len(few.captured_queries)
        assert count_in(html, "mine") == 21
        assert html.count("More work") <= 10  # short lists: five rows each
        assert 'href="/admin/tickets/ticket/?assignee=me">All 21</a>' in html

    def test_counts_stop_at_the_cap_and_say_so(self, client: Client, agent, desk, monkeypatch):
        monkeypatch.setattr(home, "COUNT_CAP", 6)
        for n in range(7):
            ticket(subject=f"Pile {n}", assignee=agent)
        client.force_login(agent)
        html = client.get(HOME).content.decode()

        mine = section(html, "mine")
        assert ">6+</span>" in mine  # eight of theirs: counted to seven, shown as "more than six"
        assert "All 6+" in mine
        assert count_in(html, "breached") == 1  # under the cap: exact


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
class TestAgentHomePlans:
    """Due soon and breached are read from the partial indexes on the running clocks, not by visiting
    every active ticket: a desk with many active tickets and a few at risk or late costs a few index reads."""

    @pytest.fixture
    def crowded(self, agent, tier2_agent):
        # The rows earlier tests wrote and rolled back are still in the table's pages, and the planner costs
        # a scan by pages: cleared first, from a connection of its own (VACUUM runs outside a transaction).
        settings = connection.settings_dict
        with psycopg.connect(
            dbname=settings["NAME"],
            user=settings["USER"],
            password=settings["PASSWORD"],
            host=settings["HOST"],
            port=settings["PORT"],
            autocommit=True,
        ) as other:
            other.execute("VACUUM tickets_ticket")
        now = timezone.now()
        model = TicketFactory(assignee=tier2_agent)  # and 3,000 copies: active, their clocks far ahead
        values = {
            f.attname: getattr(model, f.attname)
            for f in Ticket._meta.concrete_fields
            if not f.primary_key and not getattr(f, "generated", False)
        }
        Ticket.objects.bulk_create([Ticket(**values) for _ in range(3000)])
        Ticket.objects.update(
            first_response_due_at=now + timedelta(days=2),
            first_response_warn_at=now + timedelta(days=1),
            resolution_due_at=now + timedelta(days=5),
            resolution_warn_at=now + timedelta(days=4),
        )
        ticket(subject="Late", first_response_due_at=now - timedelta(hours=1), assignee=tier2_agent)
        ticket(
            subject="Soon",
            first_response_warn_at=now - timedelta(minutes=5),
            first_response_due_at=now + timedelta(minutes=10),
            assignee=tier2_agent,
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_ticket")

    def plans_of_counts(self, client: Client, agent) -> list[str]:
        client.force_login(agent)
        with CaptureQueriesContext(connection) as captured:
            html = client.get(HOME).content.decode()
        assert count_in(html, "breached") == 1
        assert count_in(html, "due_soon") == 1
        counts = [q["sql"] for q in captured.captured_queries if q["sql"].endswith(f"LIMIT {home.COUNT_CAP + 1}")]
        plans = []
        with connection.cursor() as cursor:
            for sql in counts:
                cursor.execute(f"EXPLAIN {sql}")
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
        return plans

    def unassigned_plans(self, client: Client, agent, *, tier: int, waiting_in: int | None = None) -> dict[str, str]:
        """With 3,000 closed tickets nobody had (spam, customers who solved it themselves) and, with
        ``waiting_in``, 2,000 waiting in that tier's queue with nobody on them, three unassigned active tickets
        in ``tier``: the plans of the home's count and list of them, as ``agent`` sees the home."""
        for n in range(3):
            ticket(subject=f"Nobody has {n}", tier=tier)
        done = Ticket.objects.filter(assignee__isnull=False).first()
        assert done is not None
        values = {
            f.attname: getattr(done, f.attname)
            for f in Ticket._meta.concrete_fields
            if not f.primary_key and not getattr(f, "generated", False)
        }
        closed = values | {"assignee_id": None, "status": Ticket.Status.CLOSED, "closed_at": timezone.now()}
        Ticket.objects.bulk_create([Ticket(**closed) for _ in range(3000)])
        if waiting_in is not None:
            waiting = values | {"assignee_id": None, "status": Ticket.Status.OPEN, "tier": waiting_in}
            Ticket.objects.bulk_create([Ticket(**waiting) for _ in range(2000)])
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_ticket")
        client.force_login(agent)
        with CaptureQueriesContext(connection) as captured:
            html = client.get(HOME).content.decode()
        assert count_in(html, "unassigned") == 3
        assert section(html, "unassigned").count("Nobody has") == 3
        reads = [q["sql"] for q in captured.captured_queries if '"tickets_ticket"."assignee_id" IS NULL' in q["sql"]]
        count, rows = sorted(reads, key=lambda sql: not sql.endswith(f"LIMIT {home.COUNT_CAP + 1}"))
        plans = {}
        with connection.cursor() as cursor:
            for name, sql in (("count", count), ("rows", rows)):
                cursor.execute(f"EXPLAIN {sql}")
                plans[name] = "\n".join(row[0] for row in cursor.fetchall())
        return plans

    @staticmethod
    def scans_of(plan: str) -> list[str]:
        scans = [line for line in plan.splitlines() if " on tickets_ticket" in line]
        assert scans, plan
        return scans

    def test_unassigned_in_my_tier_reads_only_the_active_tickets_nobody_has(self, client: Client, agent, crowded):
        """Past 3,000 assigned active tickets and 3,000 closed ones nobody had, the home's list and count of the
        unassigned in the agent's tier read an index of the active unassigned tickets only. The list walked the
        urgency index past every assigned active ticket before (about 20 ms at a million), and the count the
        foreign key's index past every ticket nobody ever had, closed ones included: the desk's history, until
        the planner had statistics of assignee, status and tier together (tickets 0015)."""
        plans = self.unassigned_plans(client, agent, tier=1)
        # (a list its count says is short is read by the ids the count found: the primary key)
        active_only = ("ticket_unassigned_idx", "ticket_unassigned_tier_idx", "ticket_assignee_idx", "_pkey")
        for name, plan in plans.items():
            assert all(any(index in line for index in active_only) for line in self.scans_of(plan)), (name, plan)

    def test_unassigned_in_my_tier_reads_past_no_other_tiers_queue(self, client: Client, tier2_agent, crowded):
        """And with 2,000 waiting in Tier 1's queue, a Tier 2 agent's list and count read their own tier's
        entries of the partial index by tier (tickets 0016), not Tier 1's."""
        plans = self.unassigned_plans(client, tier2_agent, tier=2, waiting_in=1)
        assert all("ticket_unassigned_tier_idx" in line for line in self.scans_of(plans["count"])), plans["count"]
        by_tier_or_id = ("ticket_unassigned_tier_idx", "_pkey")  # a short list: by the ids the count found
        rows = self.scans_of(plans["rows"])
        assert all(any(index in line for index in by_tier_or_id) for line in rows), plans["rows"]

    def test_a_short_list_is_read_as_its_count_was(self, client: Client, agent, crowded):
        """Asked for in urgency order, the planner walked the urgency index hoping to meet the breached tickets
        early; with fewer of them than the list shows it read every ticket of the desk (nothing breached at
        100,000 tickets: 55 ms of the home's 70). A list its count says is short is read along the count's
        index ranges and ordered in Python."""
        # Most of the desk answered in time: the planner cannot tell "answered after the deadline" (two
        # columns compared) from a third of the tickets, and expects many breached where there is one.
        Ticket.objects.exclude(subject__in=["Late", "Soon"]).update(first_responded_at=timezone.now())
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE tickets_ticket")
        client.force_login(agent)
        html, reads = breached_list_reads(client)

        assert count_in(html, "breached") == 1
        assert "Late" in section(html, "breached")
        assert len(reads) == 1
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {reads[0]}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "ticket_urgency_idx" not in plan, plan
        assert "Seq Scan on tickets_ticket" not in plan, plan

    def test_due_soon_and_breached_read_the_clock_indexes(self, client: Client, agent, crowded):
        plans = self.plans_of_counts(client, agent)
        assert len(plans) == 4
        clock_plans = [plan for plan in plans if "_open_idx" in plan]
        assert len(clock_plans) == 2, plans  # due soon: the warning indexes; breached: the deadlines, the late ones
        assert any("ticket_resp_warn_open_idx" in plan for plan in clock_plans)
        assert any("ticket_resp_due_open_idx" in plan and "ticket_resp_late_idx" in plan for plan in clock_plans)
        assert all("Seq Scan on tickets_ticket" not in plan for plan in clock_plans)
