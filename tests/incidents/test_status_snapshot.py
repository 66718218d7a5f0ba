"""The status page's snapshot: states, uptime, history, maintenance, and how long it is served."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import DatabaseError

from incidents import status
from incidents.models import CheckedUptime, Component
from incidents.status import State
from support import usecases

from .status_helpers import NOW, declare, maintenance, resolve

pytestmark = pytest.mark.django_db


def floor2(percent: float) -> float:
    return math.floor(percent * 100) / 100


def by_slug(data: dict) -> dict[str, dict]:
    return {row["slug"]: row for row in data["components"]}


class TestStates:
    def test_a_quiet_desk_is_all_operational(self):
        data = status.snapshot_build(now=NOW)
        assert data["state"] == State.OPERATIONAL
        assert data["state_label"] == "All systems operational"
        assert [row["slug"] for row in data["components"]] == [
            "storefront",
            "checkout-payments",
            "accounts-authentication",
            "orders",
            "database-services",
        ]
        assert {row["state"] for row in data["components"]} == {State.OPERATIONAL}
        assert data["incidents"] == []
        for row in data["components"]:
            assert len(row["days"]) == status.HISTORY_DAYS
            assert row["days"][-1]["date"] == date(2026, 12, 8)
            assert row["uptime_percent"] == 100.0

    @pytest.mark.parametrize(
        ("severity", "state"),
        [("P0", State.MAJOR), ("P1", State.PARTIAL), ("P2", State.DEGRADED), ("P3", State.DEGRADED)],
    )
    def test_an_open_incident_sets_its_components_by_severity(self, agent, severity, state):
        declare(agent, severity=severity, components=("checkout-payments", "orders"))
        rows = by_slug(status.snapshot_build(now=NOW))
        assert rows["checkout-payments"]["state"] == state
        assert rows["orders"]["state"] == state
        assert rows["storefront"]["state"] == State.OPERATIONAL

    def test_the_worst_state_wins_and_sets_the_banner(self, agent):
        declare(agent, severity="P2", components=("checkout-payments",))
        declare(agent, severity="P0", components=("checkout-payments",), title="Checkout down")
        maintenance(starts_at=NOW - timedelta(minutes=5), ends_at=NOW + timedelta(hours=1), components=("orders",))
        data = status.snapshot_build(now=NOW)
        rows = by_slug(data)
        assert rows["checkout-payments"]["state"] == State.MAJOR
        assert rows["orders"]["state"] == State.MAINTENANCE
        assert (data["state"], data["state_label"]) == (State.MAJOR, "Major system outage")
        assert [i["title"] for i in data["incidents"]] == ["Checkout down", "Card payments fail"]

    def test_maintenance_in_progress_alone(self):
        maintenance(starts_at=NOW - timedelta(minutes=5), ends_at=NOW + timedelta(hours=1))
        data = status.snapshot_build(now=NOW)
        assert (data["state"], data["state_label"]) == (State.MAINTENANCE, "Maintenance in progress")
        assert by_slug(data)["orders"]["state_label"] == "Under maintenance"

    def test_an_incident_without_a_public_component_still_raises_the_banner(self, agent):
        Component.objects.filter(slug="orders").update(public=False)
        declare(agent, severity="P1", components=("orders",))
        data = status.snapshot_build(now=NOW)
        assert data["state"] == State.PARTIAL
        assert {row["state"] for row in data["components"]} == {State.OPERATIONAL}
        assert data["incidents"][0]["components"] == []

    def test_a_resolved_incident_no_longer_counts(self, agent):
        incident = declare(agent, severity="P0")
        resolve(incident, agent, now=NOW + timedelta(minutes=30))
        data = status.snapshot_build(now=NOW + timedelta(hours=1))
        assert data["state"] == State.OPERATIONAL
        assert data["incidents"] == []

    def test_non_public_incidents_and_components_are_left_out(self, agent):
        Component.objects.filter(slug="storefront").update(public=False)
        declare(agent, severity="P0", public=False, components=("checkout-payments",))
        data = status.snapshot_build(now=NOW)
        assert "storefront" not in by_slug(data)
        assert data["incidents"] == []
        assert data["state"] == State.OPERATIONAL
        assert data["feed"] == []


class TestIncidents:
    def test_open_incidents_carry_their_public_updates_newest_first(self, agent):
        incident = declare(agent, severity="P0", components=("orders", "checkout-payments"))
        later = NOW + timedelta(minutes=20)
        usecases.incident_update(incident=incident, author=agent, body="Found it", status="identified", now=later)
        usecases.incident_update(incident=incident, author=agent, body="internal only", public=False, now=later)
        [row] = status.snapshot_build(now=later)["incidents"]
        assert row["title"] == "Card payments fail"
        assert (row["severity"], row["severity_label"]) == ("P0", "P0 Critical")
        assert (row["status"], row["status_label"]) == ("identified", "Identified")
        assert [c["slug"] for c in row["components"]] == ["checkout-payments", "orders"]  # in page order
        assert row["started_at"] == NOW - timedelta(minutes=10)
        assert row["resolved_at"] is None
        assert [(u["status_label"], u["body"]) for u in row["updates"]] == [
            ("Identified", "Found it"),
            ("Investigating", "We are looking into failed card payments."),
        ]
        assert row["updates"][0]["at"] == later
        assert row["id"] == status.public_id("incident", incident.pk)  # not its number: that counts the others
        assert len(row["id"]) == 16

    def test_past_incidents_are_listed_per_day_and_every_day_is_there(self, agent):
        two_days_ago = NOW - timedelta(days=2)
        incident = declare(agent, now=two_days_ago, title="Sign-in slow", severity="P2")
        resolve(incident, agent, now=two_days_ago + timedelta(hours=2), message="Sign-in is quick again.")
        history = status.snapshot_build(now=NOW)["history"]
        assert len(history) == status.PAST_INCIDENT_DAYS
        assert [day["date"] for day in history[:3]] == [date(2026, 12, 8), date(2026, 12, 7), date(2026, 12, 6)]
        [past] = history[2]["incidents"]
        assert past["title"] == "Sign-in slow"
        assert past["status"] == "resolved"
        assert past["resolved_at"] == two_days_ago + timedelta(hours=2)
        assert [u["body"] for u in past["updates"]] == [
            "Sign-in is quick again.",
            "We are looking into failed card payments.",
        ]
        assert history[0]["incidents"] == history[1]["incidents"] == []

    def test_incidents_older_than_the_listed_days_only_colour_the_bars(self, agent):
        then = NOW - timedelta(days=30)
        resolve(declare(agent, now=then, severity="P0"), agent, now=then + timedelta(hours=1))
        data = status.snapshot_build(now=NOW)
        assert all(day["incidents"] == [] for day in data["history"])
        assert by_slug(data)["checkout-payments"]["days"][-31]["state"] == State.MAJOR


class TestTheColourFollowsTheUptimeSource:
    """Each bar's colour comes from where its uptime figure comes from: the checks on a day they ran,
    the incidents (and maintenance) on a day they did not."""

    @staticmethod
    def checked(slug: str, day: date, checks: int, failures: int) -> None:
        CheckedUptime.objects.create(
            component=Component.objects.get(slug=slug), date=day, checks=checks, failures=failures, updated_at=NOW
        )

    def test_a_checked_day_is_coloured_by_its_checks_an_unchecked_day_by_its_incidents(
        self, agent, client, time_machine
    ):
        def on(day: int, hours: float = 6):
            return datetime(2026, 12, day, 6, 0, tzinfo=UTC), datetime(2026, 12, day, 6, 0, tzinfo=UTC) + timedelta(
                hours=hours
            )

        self.checked("storefront", date(2026, 12, 7), 8, 2)  # failed checks, no incident
        self.checked("storefront", date(2026, 12, 6), 10, 0)  # all passed, an incident the checks did not see
        self.checked("storefront", date(2026, 12, 4), 10, 9)
        self.checked("storefront", date(2026, 12, 3), 4, 4)
        for day in (6, 5):  # the 5th has no checks: the incident colours it, as before
            start, end = on(day)
            incident = declare(
                agent, now=start, started_at=start, detected_at=start, severity="P1", components=("storefront",)
            )
            resolve(incident, agent, now=end)
        start, end = on(2, hours=1)
        maintenance(starts_at=start, ends_at=end, components=("storefront",))  # unchecked: maintenance shows

        days = {day["date"].day: day for day in by_slug(status.snapshot_build(now=NOW))["storefront"]["days"]}
        seen = {n: (days[n]["state"], days[n]["uptime_percent"], days[n]["uptime_source"]) for n in range(2, 9)}
        assert seen == {
            8: (State.OPERATIONAL, 100.0, "incidents"),
            7: (State.DEGRADED, 75.0, "checks"),
            6: (State.OPERATIONAL, 100.0, "checks"),
            5: (State.PARTIAL, 75.0, "incidents"),
            4: (State.PARTIAL, 10.0, "checks"),
            3: (State.MAJOR, 0.0, "checks"),
            2: (State.MAINTENANCE, 100.0, "incidents"),
        }
        assert days[7]["state_label"] == "Degraded performance"

        time_machine.move_to(NOW, tick=False)  # the page builds its snapshot at the request's time
        html = client.get("/status/").content.decode()
        assert (
            '<li class="bar state-degraded_performance" data-uptime-source="checks"'
            ' title="7 Dec 2026: Degraded performance, 75 % uptime (from checks)"></li>'
        ) in html
        assert (
            '<li class="bar state-partial_outage" data-uptime-source="incidents"'
            ' title="5 Dec 2026: Partial outage, 75 % uptime (from incidents)"></li>'
        ) in html

    @pytest.mark.parametrize(
        ("checks", "failures", "state"),
        [
            (8, 0, State.OPERATIONAL),
            (100_000, 1, State.DEGRADED),
            (8, 4, State.DEGRADED),
            (8, 5, State.PARTIAL),
            (8, 8, State.MAJOR),
        ],
    )
    def test_the_checks_state_by_their_share_passed(self, checks, failures, state):
        assert status.checked_state(checks, failures) == state


class TestUptime:
    def test_p0_and_p1_are_downtime_p2_and_p3_only_colour_the_day(self, agent):
        yesterday = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
        p1 = declare(agent, now=yesterday + timedelta(minutes=10), started_at=yesterday, severity="P1")
        resolve(p1, agent, now=yesterday + timedelta(hours=6))
        p2 = declare(agent, now=yesterday, severity="P2", components=("orders",))
        resolve(p2, agent, now=yesterday + timedelta(hours=6))
        rows = by_slug(status.snapshot_build(now=NOW))

        checkout = rows["checkout-payments"]
        assert checkout["days"][-2] == {
            "date": date(2026, 12, 7),
            "state": State.PARTIAL,
            "state_label": "Partial outage",
            "uptime_percent": 75.0,
            "uptime_source": "incidents",
        }
        assert checkout["days"][-1]["uptime_percent"] == 100.0
        window = sum((day.end - day.start for day in status.days_until(NOW, status.HISTORY_DAYS)), timedelta(0))
        assert window == timedelta(days=89, hours=15 + 1)  # 89 days and today's 15 hours; October's 25-hour day
        assert checkout["uptime_percent"] == floor2(100 * (window - timedelta(hours=6)) / window)
        orders = rows["orders"]
        assert (orders["days"][-2]["state"], orders["days"][-2]["uptime_percent"]) == (State.DEGRADED, 100.0)

    def test_today_counts_up_to_now_and_an_open_outage_up_to_now(self, agent):
        declare(agent, severity="P0", started_at=NOW - timedelta(hours=3), detected_at=NOW - timedelta(hours=3))
        today = by_slug(status.snapshot_build(now=NOW))["checkout-payments"]["days"][-1]
        assert today["uptime_percent"] == 80.0  # 3 h down of the 15 h so far
        assert today["state"] == State.MAJOR

    def test_an_outage_across_midnight_counts_on_both_days(self, agent):
        start = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
        incident = declare(agent, now=start, started_at=start, detected_at=start, severity="P0")
        resolve(incident, agent, now=start + timedelta(hours=4))
        days = by_slug(status.snapshot_build(now=NOW))["checkout-payments"]["days"]
        assert [(d["date"].day, d["uptime_percent"], d["state"]) for d in days[-3:-1]] == [
            (6, floor2(100 * 22 / 24), State.MAJOR),
            (7, floor2(100 * 22 / 24), State.MAJOR),
        ]

    def test_overlapping_outages_count_once_and_any_downtime_shows(self):
        day = status.Day(date(2026, 12, 7), datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC))
        t = day.start
        per_day, total = status.uptime_days(
            [(t, t + timedelta(hours=2)), (t + timedelta(hours=1), t + timedelta(hours=3))], [day]
        )
        assert per_day == [87.5] == [total]
        per_day, _ = status.uptime_days([(t, t + timedelta(seconds=1))], [day])
        assert per_day == [99.99]  # rounded down: a second of downtime is not 100 %

    def test_days_follow_the_desk_clock_across_a_dst_change(self):
        # Europe/London moved to summer time on Sunday 29 March 2026: a 23-hour day.
        days = status.days_until(datetime(2026, 3, 30, 12, 0, tzinfo=UTC), 2)
        assert days[0].date == date(2026, 3, 29)
        assert days[0].end - days[0].start == timedelta(hours=23)
        start = days[0].start
        per_day, _ = status.uptime_days([(start, start + timedelta(hours=2, minutes=18))], days[:1])
        assert per_day == [90.0]


class TestMaintenance:
    def test_in_progress_and_scheduled_are_shown_cancelled_and_past_are_not(self):
        maintenance(title="Now", starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1))
        maintenance(title="Later", starts_at=NOW + timedelta(days=2), ends_at=NOW + timedelta(days=2, hours=1))
        maintenance(
            title="Off", starts_at=NOW + timedelta(days=1), ends_at=NOW + timedelta(days=1, hours=1), cancelled=True
        )
        maintenance(
            title="Done", starts_at=NOW - timedelta(days=1), ends_at=NOW - timedelta(days=1) + timedelta(hours=1)
        )
        data = status.snapshot_build(now=NOW)
        assert [(w["title"], w["status"]) for w in data["maintenance"]] == [
            ("Now", "in_progress"),
            ("Later", "scheduled"),
        ]
        assert [c["name"] for c in data["maintenance"][0]["components"]] == ["Orders"]
        [done] = data["history"][1]["maintenance"]
        assert (done["title"], done["status"]) == ("Done", "completed")
        days = by_slug(data)["orders"]["days"]
        assert days[-2]["state"] == days[-1]["state"] == State.MAINTENANCE
        assert days[-2]["uptime_percent"] == 100.0  # maintenance is not downtime

    def test_the_snapshot_is_fresh_until_the_next_window_boundary_or_midnight(self):
        data = status.snapshot_build(now=NOW)
        assert data["fresh_until"] == NOW + status.SNAPSHOT_TTL
        late = datetime(2026, 12, 8, 23, 59, 30, tzinfo=UTC)
        assert status.snapshot_build(now=late)["fresh_until"] == datetime(2026, 12, 9, tzinfo=UTC)
        maintenance(starts_at=NOW + timedelta(seconds=20), ends_at=NOW + timedelta(hours=1))
        assert status.snapshot_build(now=NOW)["fresh_until"] == NOW + timedelta(seconds=20)


class TestFeedEntries:
    def test_public_updates_and_maintenance_newest_first(self, agent):
        incident = declare(agent)
        later = NOW + timedelta(minutes=5)
        usecases.incident_update(incident=incident, author=agent, body="Fixed soon", status="monitoring", now=later)
        usecases.incident_update(incident=incident, author=agent, body="note to self", public=False, now=later)
        maintenance(
            starts_at=NOW + timedelta(days=1),
            ends_at=NOW + timedelta(days=1, hours=1),
            created_at=NOW - timedelta(minutes=1),
        )
        feed = status.snapshot_build(now=later)["feed"]
        assert [e["title"] for e in feed] == [
            "Card payments fail: Monitoring",
            "Card payments fail: Investigating",
            "Scheduled maintenance: Database upgrade",
        ]


class TestBuildCost:
    def test_a_cold_build_reads_a_fixed_number_of_queries(self, agent, django_assert_num_queries):
        for n in range(6):
            incident = declare(agent, now=NOW - timedelta(days=n), title=f"Incident {n}", severity=f"P{n % 4}")
            if n:
                resolve(incident, agent, now=NOW - timedelta(days=n) + timedelta(hours=1))
        maintenance(starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=1))
        maintenance(starts_at=NOW + timedelta(days=1), ends_at=NOW + timedelta(days=1, hours=2))
        # components, incidents, their components, their public updates, maintenance and its components, the feed,
        # the uptime checks' counts per component and day
        with django_assert_num_queries(8):
            data = status.snapshot_build(now=NOW)
        assert len(data["incidents"]) == 1


class TestServing:
    def test_another_process_reads_the_data_from_the_cache_once(self, django_assert_num_queries, monkeypatch):
        first = status.snapshot(now=NOW)
        status.snapshot_local_forget()  # another process: no copy of its own
        with django_assert_num_queries(0):
            assert status.snapshot(now=NOW)["version"] == first["version"]
        assert status._Local.data is not None
        assert status._Local.data["version"] == first["version"]

    def test_a_change_in_another_process_shows_within_a_second(self):
        first = status.snapshot(now=NOW)
        cache.set(status.GENERATION_KEY, "another process committed a change", None)
        cache.delete(status.SNAPSHOT_KEY)
        assert status.snapshot(now=NOW + timedelta(milliseconds=900))["version"] == first["version"]
        assert status.snapshot(now=NOW + status.LOCAL_TRUST)["version"] != first["version"]

    def test_the_second_request_reads_nothing(self, django_assert_num_queries):
        first = status.snapshot(now=NOW)
        with django_assert_num_queries(0):
            again = status.snapshot(now=NOW + timedelta(seconds=30))
        assert again["version"] == first["version"]
        assert "fresh_until" not in again

    def test_it_is_rebuilt_after_its_time(self):
        first = status.snapshot(now=NOW)
        assert status.snapshot(now=NOW + status.SNAPSHOT_TTL)["version"] != first["version"]

    def test_an_incident_change_refreshes_it_when_it_commits(self, agent, django_capture_on_commit_callbacks):
        before = status.snapshot(now=NOW)
        with django_capture_on_commit_callbacks(execute=True):
            incident = declare(agent, severity="P0")
        declared = status.snapshot(now=NOW)
        assert declared["version"] != before["version"]
        assert declared["incidents"][0]["title"] == "Card payments fail"
        with django_capture_on_commit_callbacks(execute=True):
            usecases.incident_update(incident=incident, author=agent, body="Rolling back", now=NOW)
        assert status.snapshot(now=NOW)["incidents"][0]["updates"][0]["body"] == "Rolling back"
        with django_capture_on_commit_callbacks(execute=True):
            resolve(incident, agent, now=NOW + timedelta(minutes=1))
        assert status.snapshot(now=NOW + timedelta(minutes=1))["incidents"] == []

    def test_nothing_changes_before_the_commit(self, agent, django_capture_on_commit_callbacks):
        before = status.snapshot(now=NOW)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            declare(agent, severity="P0")
            assert status.snapshot(now=NOW)["version"] == before["version"]
        assert callbacks

    def test_a_snapshot_built_while_a_change_committed_is_not_served(self, agent, monkeypatch):
        build = status.snapshot_build

        def build_then_a_change_commits(*, now):
            data = build(now=now)
            status._forget_now()  # what snapshot_forget does when a change commits
            return data

        monkeypatch.setattr(status, "snapshot_build", build_then_a_change_commits)
        first = status.snapshot(now=NOW)
        monkeypatch.setattr(status, "snapshot_build", build)
        assert status.snapshot(now=NOW)["version"] != first["version"]

    def test_the_last_snapshot_is_served_when_the_database_fails(self, monkeypatch):
        first = status.snapshot(now=NOW)

        def down(*, now):
            raise DatabaseError("too many connections")

        monkeypatch.setattr(status, "snapshot_build", down)
        assert status.snapshot(now=NOW + timedelta(minutes=5))["version"] == first["version"]
        cache.clear()  # Redis lost it too: this process's copy still serves
        assert status.snapshot(now=NOW + timedelta(minutes=5))["version"] == first["version"]
        status.snapshot_local_forget()
        with pytest.raises(DatabaseError):
            status.snapshot(now=NOW + timedelta(minutes=5))

    def test_while_one_request_rebuilds_the_others_serve_the_last(self, monkeypatch):
        first = status.snapshot(now=NOW)
        cache.add(status.REBUILD_LOCK_KEY, 1, 30)  # another process is rebuilding
        monkeypatch.setattr(status, "snapshot_build", lambda *, now: pytest.fail("built twice"))
        assert status.snapshot(now=NOW + timedelta(minutes=5))["version"] == first["version"]
