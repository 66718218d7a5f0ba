"""Uptime per component from the checks, on the status page and the scorecard (issue 14).

Real checks: the runner fetches a shop on loopback that the test turns up and down, with injected
time; the results are rolled up by monitors' own retention; ``support.usecases.status_uptime_refresh``
hands the counts to incidents, which the status page (snapshot, JSON, HTML) and the reports'
scorecard read. A component without checks keeps its incident-based figure on the page and reads
"not available" on the scorecard.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command

from incidents import status
from incidents.models import CheckedUptime, Component, Incident
from monitors import retention
from monitors.models import CheckResult, HourRollup
from reports import metrics
from reports.filters import ReportFilters
from support import usecases
from tests.incidents.status_helpers import declare, resolve

from .conftest import make_monitor, run

pytestmark = pytest.mark.django_db

# 8 December 2026: London is on UTC, so desk days are UTC days.
DAY = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
NOW = DAY + timedelta(hours=3)
WEEK = ReportFilters(start=date(2026, 12, 2), end=date(2026, 12, 8))


@pytest.fixture
def storefront_checked(target, storefront):
    """Eight checks of the storefront 30 s apart on DAY: six pass, then the shop is down for two.

    ``failures_to_open`` is high so that no incident opens: the incident-based figure would be 100 %.
    """
    monitor = make_monitor(
        now=DAY, name="Storefront home", kind="http", url=target.url("/"), component=storefront, failures_to_open=10
    )
    for n in range(6):
        assert run(DAY, 30 * n).claimed == 1
    target.down()
    for n in range(6, 8):
        assert run(DAY, 30 * n).claimed == 1
    target.up()
    assert (
        list(CheckResult.objects.filter(monitor=monitor).order_by("scheduled_at").values_list("ok", flat=True))
        == [True] * 6 + [False] * 2
    )
    return monitor


def by_slug(data: dict) -> dict[str, dict]:
    return {row["slug"]: row for row in data["components"]}


class TestStatusPage:
    def test_a_checked_component_shows_the_share_of_checks_passed(self, storefront_checked, agent, time_machine):
        # checkout-payments has no monitor: a P1 of 6 hours on DAY is its downtime, as before.
        incident = declare(
            agent,
            now=DAY - timedelta(hours=8),
            started_at=DAY - timedelta(hours=9),
            severity="P1",
            components=("checkout-payments",),
        )
        resolve(incident, agent, now=DAY - timedelta(hours=3))
        assert not Incident.objects.filter(source=Incident.Source.MONITOR).exists()  # the storefront had none

        assert usecases.status_uptime_refresh(now=NOW) == 1
        row = CheckedUptime.objects.get()
        assert (row.component.slug, row.date, row.checks, row.failures) == ("storefront", date(2026, 12, 8), 8, 2)

        rows = by_slug(status.snapshot_build(now=NOW))
        storefront = rows["storefront"]
        assert storefront["uptime_source"] == "checks"
        assert storefront["days"][-1]["uptime_source"] == "checks"
        assert storefront["days"][-1]["uptime_percent"] == 75.0  # 6 of 8 passed
        assert storefront["uptime_percent"] == 75.0  # over the days the checks ran
        assert storefront["days"][-2]["uptime_source"] == "incidents"  # no check the day before
        assert storefront["days"][-2]["uptime_percent"] == 100.0
        # The fallback: no checks, the incident's six hours of the day's twelve so far.
        checkout = rows["checkout-payments"]
        assert checkout["uptime_source"] == "incidents"
        assert checkout["days"][-1] == {
            "date": date(2026, 12, 8),
            "state": status.State.PARTIAL,
            "state_label": "Partial outage",
            "uptime_percent": 50.0,
            "uptime_source": "incidents",
        }

        time_machine.move_to(NOW, tick=False)
        status.snapshot_local_forget()
        api = by_slug(self.client_json())
        assert api["storefront"]["uptime_percent"] == 75.0
        assert api["storefront"]["uptime_source"] == "checks"
        assert api["storefront"]["days"][-1]["uptime_source"] == "checks"
        assert api["checkout-payments"]["uptime_source"] == "incidents"
        assert api["checkout-payments"]["days"][-1]["uptime_percent"] == 50.0
        html = self.client_html()
        assert "75 % uptime (from checks)" in html
        assert "100 % uptime (from incidents)" in html  # the components without checks or incidents
        # Its colour follows the same figure: two of eight checks failed, no incident, a degraded day.
        assert storefront["days"][-1]["state"] == status.State.DEGRADED
        assert "8 Dec 2026: Degraded performance, 75 % uptime (from checks)" in html

    def client_json(self) -> dict:
        from django.test import Client

        response = Client().get("/api/v1/status/")
        assert response.status_code == 200
        return response.json()

    def client_html(self) -> str:
        from django.test import Client

        response = Client().get("/status/")
        assert response.status_code == 200
        return response.content.decode()

    def test_the_figure_is_the_same_from_the_rollups_once_the_raw_results_are_gone(self, storefront_checked):
        usecases.status_uptime_refresh(now=NOW)
        before = by_slug(status.snapshot_build(now=NOW))["storefront"]["days"][-1]
        later = DAY + timedelta(days=3)
        retention.rollup_and_prune(now=later)
        assert not CheckResult.objects.exists()  # pruned after 48 h
        assert HourRollup.objects.filter(monitor=storefront_checked).exists()

        call_command("status_uptime_refresh", "--days", "90")  # today's clock: recounts all 90 days
        usecases.status_uptime_refresh(now=later, days=90)
        rows = by_slug(status.snapshot_build(now=later))["storefront"]
        day = next(d for d in rows["days"] if d["date"] == date(2026, 12, 8))
        assert day == before
        assert rows["uptime_source"] == "checks"

    def test_a_refresh_forgets_a_day_no_check_counts_any_more(self, storefront_checked):
        usecases.status_uptime_refresh(now=NOW)
        assert CheckedUptime.objects.count() == 1
        storefront_checked.delete()  # its results go with it
        usecases.status_uptime_refresh(now=NOW)
        assert not CheckedUptime.objects.exists()
        assert by_slug(status.snapshot_build(now=NOW))["storefront"]["uptime_source"] == "incidents"

    def test_the_snapshot_is_rebuilt_when_the_counts_change(
        self, storefront_checked, django_capture_on_commit_callbacks
    ):
        first = status.snapshot(now=NOW)
        assert by_slug(first)["storefront"]["uptime_source"] == "incidents"
        with django_capture_on_commit_callbacks(execute=True):
            usecases.status_uptime_refresh(now=NOW)
        again = status.snapshot(now=NOW)
        assert again["version"] != first["version"]
        assert by_slug(again)["storefront"]["uptime_percent"] == 75.0


class TestScorecard:
    def test_uptime_per_component_over_30_and_90_days_against_the_target(self, storefront_checked):
        usecases.status_uptime_refresh(now=NOW)
        card = {m.key: m for m in metrics.scorecard(WEEK, now=NOW).metrics}

        for days in (30, 90):
            storefront = card[f"uptime_{days}d_storefront"]
            assert storefront.value == pytest.approx(6 / 8)
            assert storefront.target == pytest.approx(0.999)
            assert storefront.comparison == ">"
            assert storefront.met is False
            assert storefront.note == "6 of 8 checks passed (75.00 %)."
            checkout = card[f"uptime_{days}d_checkout-payments"]
            assert checkout.available is False
            assert checkout.value is None
            assert checkout.met is None
            assert "no uptime check" in checkout.note

    def test_a_clean_month_meets_the_target_and_the_window_ends_with_the_range(self, storefront):
        """Counts handed in for days outside a window do not count in it."""
        rows = [
            (storefront.pk, date(2026, 12, 8) - timedelta(days=n), 2880, 1)  # 99.965 % a day
            for n in range(40)
        ]
        from monitors.selectors import ComponentDay

        status.checked_uptime_record(
            [ComponentDay(*row) for row in rows], first=date(2026, 10, 1), last=date(2026, 12, 8), now=NOW
        )
        card = {m.key: m for m in metrics.scorecard(WEEK, now=NOW).metrics}
        month, quarter = card["uptime_30d_storefront"], card["uptime_90d_storefront"]
        assert month.met is True
        assert quarter.met is True
        assert month.note == "86,370 of 86,400 checks passed (99.96 %)."
        assert quarter.note == "115,160 of 115,200 checks passed (99.96 %)."
        earlier = ReportFilters(start=date(2026, 11, 1), end=date(2026, 11, 7))
        card = {m.key: m for m in metrics.scorecard(earlier, now=NOW).metrics}
        # 30 days ending 7 November: only 30 October to 7 November have counts, as for 90 days.
        assert card["uptime_30d_storefront"].note == "25,911 of 25,920 checks passed (99.96 %)."
        assert card["uptime_90d_storefront"].note == "25,911 of 25,920 checks passed (99.96 %)."

    def test_the_reports_page_shows_it(self, storefront_checked, client, manager, time_machine):
        usecases.status_uptime_refresh(now=NOW)
        time_machine.move_to(NOW, tick=False)
        client.force_login(manager)
        html = client.get("/reports/", {"from": "2026-12-02", "to": "2026-12-08"}).content.decode()
        assert 'data-metric="uptime_30d_storefront"' in html
        assert "Uptime, Storefront, last 30 days (uptime checks)" in html
        assert "6 of 8 checks passed (75.00 %)." in html


def test_components_day_counts_read_a_fixed_number_of_queries(storefront_checked, django_assert_max_num_queries):
    other = Component.objects.get(slug="orders")
    make_monitor(now=DAY, name="Orders API", kind="http", url="http://127.0.0.1:9/", component=other)
    from monitors import selectors

    with django_assert_max_num_queries(5):  # the monitors, the rollup marks, hours, minutes, raw results
        rows = selectors.component_day_counts(days=90, now=NOW)
    assert [(r.date, r.checks, r.failures) for r in rows] == [(date(2026, 12, 8), 8, 2)]
