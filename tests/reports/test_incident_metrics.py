"""The scorecard's incident figures against a hand-computed fortnight, and the same from the live reference.

The fortnight (2 to 15 March 2026, GMT: London time is UTC), as the definitions in
reports.incident_metrics count it:

- A, P0: started 3 Mar 10:00, detected 10:03 (MTTD 3 min), declared 10:05; public updates 10:30
  (25 min after the declaration: kept), 11:10 (40 min: late), resolved 11:30 (20 min: kept).
  MTTR 1 h 30.
- B, P1: started 4 Mar 09:00, detected and declared 09:10 (10 min); update 10:00 (kept),
  resolved 13:00 (3 h after it, the cadence is 2 h: late). MTTR 4 h.
- C, P2: started 5 Mar 09:00, detected 09:01 (1 min), resolved 10:00. P2 has no update cadence.
- D, P0: started, detected, declared 14 Mar 12:00 (0 s) and still open on 20 March: its update due
  at 12:30 on the 14th was missed.
- E, P1: declared 27 Feb (before the range), resolved 2 Mar 01:00 (late: 3 days after its
  declaration). Counts for MTTR (3 d 1 h) and its resolution for the cadence, not as declared.
- F, P0, not on the status page: started, detected, declared 10 Mar 10:00 (0 s), resolved 11:10
  (MTTR 1 h 10). Its updates are not public: not counted for the cadence.

By severity: P0 3 (A, D, F), P1 1, P2 1. MTTD: 180, 600, 60, 0, 0 -> mean 168, median 60.
MTTR P0/P1: A 5400, B 14400, E 262800, F 4200 -> mean 71700. Cadence: A 2 of 3, B 1 of 2,
E 0 of 1, D 1 missed -> 3 of 7. Review items due in the range: A, B, E 12 each, F 8 (its
week-long items fall due on the 17th) = 44; A's four immediate items done on time, B's late -> 4.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from incidents import reviews
from incidents.models import Incident, ReviewItem
from reports import incident_metrics, metrics
from reports.filters import ReportFilters
from support import usecases

from . import live_reference
from .world import NOW

pytestmark = pytest.mark.django_db

FORTNIGHT = ReportFilters(start=date(2026, 3, 2), end=date(2026, 3, 15))
RESOLUTION = {"what_happened": "w", "resolution": "r", "prevention": "p"}


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def incident(agent, severity: str, *, started, detected, declared, public=True) -> Incident:
    return usecases.declare_incident(
        declared_by=agent,
        now=declared,
        severity=severity,
        title=f"{severity} at {declared:%d %H:%M}",
        impact="Something is broken",
        started_at=started,
        detected_at=detected,
        public=public,
    )


def update(found: Incident, agent, when: datetime) -> None:
    usecases.incident_update(incident=found, author=agent, body="Still on it.", now=when)


def resolve(found: Incident, agent, when: datetime) -> Incident:
    return usecases.resolve_incident(incident=found, by=agent, now=when, **RESOLUTION)


@pytest.fixture
def fortnight(agent):
    a = incident(agent, "P0", started=at(3, 10), detected=at(3, 10, 3), declared=at(3, 10, 5))
    update(a, agent, at(3, 10, 30))
    update(a, agent, at(3, 11, 10))
    a = resolve(a, agent, at(3, 11, 30))
    b = incident(agent, "P1", started=at(4, 9), detected=at(4, 9, 10), declared=at(4, 9, 10))
    update(b, agent, at(4, 10))
    b = resolve(b, agent, at(4, 13))
    c = incident(agent, "P2", started=at(5, 9), detected=at(5, 9, 1), declared=at(5, 9, 5))
    resolve(c, agent, at(5, 10))
    incident(agent, "P0", started=at(14, 12), detected=at(14, 12), declared=at(14, 12))
    e = incident(agent, "P1", started=at(27, 0, month=2), detected=at(27, 0, month=2), declared=at(27, 0, month=2))
    resolve(e, agent, at(2, 1))
    f = incident(agent, "P0", started=at(10, 10), detected=at(10, 10), declared=at(10, 10), public=False)
    update(f, agent, at(10, 11))
    resolve(f, agent, at(10, 11, 10))
    for item in a.review.items.filter(phase=ReviewItem.Phase.IMMEDIATE):
        reviews.item_update(item=item, by=agent, now=at(3, 12), done=True)
    for item in b.review.items.filter(phase=ReviewItem.Phase.IMMEDIATE):
        reviews.item_update(item=item, by=agent, now=at(4, 16), done=True)


class TestIncidentFigures:
    def test_each_figure_as_the_definitions_count_it(self, fortnight):
        figures = incident_metrics.incident_figures(FORTNIGHT, now=NOW)

        assert figures.by_severity == {"P0": 3, "P1": 1, "P2": 1, "P3": 0}
        assert figures.mttd_mean_seconds == 168
        assert figures.mttd_median_seconds == 60
        assert figures.mttr_p0_p1_seconds == 71700
        assert figures.resolved_p0_p1 == 4
        assert (figures.updates_kept, figures.updates) == (3, 7)
        assert figures.update_cadence_kept == pytest.approx(3 / 7, abs=1e-4)
        assert (figures.review_items_on_time, figures.review_items_due) == (4, 44)

    def test_the_priority_filter_selects_the_severity(self, fortnight):
        figures = incident_metrics.incident_figures(
            ReportFilters(FORTNIGHT.start, FORTNIGHT.end, priority="P1"), now=NOW
        )

        assert figures.by_severity == {"P0": 0, "P1": 1, "P2": 0, "P3": 0}
        assert figures.mttd_mean_seconds == 600
        assert figures.mttr_p0_p1_seconds == (14400 + 262800) / 2
        assert (figures.updates_kept, figures.updates) == (1, 3)
        assert (figures.review_items_on_time, figures.review_items_due) == (0, 24)

    def test_items_not_due_yet_are_not_counted(self, fortnight):
        # On 3 March at 12:30, A's immediate items (due 13:30) are not due yet; E's (due 2 March 03:00) are.
        figures = incident_metrics.incident_figures(FORTNIGHT, now=at(3, 12, 30))
        assert figures.review_items_due == 4  # E's immediate items
        assert figures.review_items_on_time == 0

    @pytest.mark.parametrize("priority", [None, "P0", "P1", "P2", "P3"])
    def test_the_live_reference_agrees(self, fortnight, priority):
        f = ReportFilters(FORTNIGHT.start, FORTNIGHT.end, priority=priority)
        figures = incident_metrics.incident_figures(f, now=NOW)
        assert vars(figures) == live_reference.incident_figures(f, now=NOW)

    def test_no_incidents_is_nulls_and_zeros(self, db):
        figures = incident_metrics.incident_figures(FORTNIGHT, now=NOW)
        assert figures.mttd_mean_seconds is None
        assert figures.mttd_median_seconds is None
        assert figures.mttr_p0_p1_seconds is None
        assert figures.update_cadence_kept is None
        assert figures.review_items_on_time_share is None
        assert figures.declared == 0


class TestOnTheScorecard:
    def test_mttd_and_mttr_are_real_values_against_their_targets(self, fortnight):
        card = {m.key: m for m in metrics.scorecard(FORTNIGHT, now=NOW).metrics}

        assert card["mttd_seconds"].value == 168
        assert card["mttd_seconds"].available is True
        assert card["mttd_seconds"].met is True  # under 5 minutes
        assert card["mttd_median_seconds"].value == 60
        assert card["incident_mttr_p0_p1_seconds"].value == 71700
        assert card["incident_mttr_p0_p1_seconds"].met is False  # target under 2 hours
        assert [card[f"incidents_{s}"].value for s in ("P0", "P1", "P2", "P3")] == [3, 1, 1, 0]
        assert card["incident_update_cadence_kept"].value == pytest.approx(0.4286, abs=1e-4)
        assert card["review_items_on_time"].value == pytest.approx(4 / 44, abs=1e-4)

    def test_the_page_and_the_api_show_them(self, client, api_client_for, manager, fortnight, time_machine):
        time_machine.move_to(NOW, tick=False)
        client.force_login(manager)
        page = client.get("/reports/?from=2026-03-02&to=2026-03-15").content.decode()
        row = page.split('data-metric="mttd_seconds"')[1].split("</tr>")[0]
        assert "2 min" in row
        assert "met" in row
        assert "not available" not in page.split('data-metric="mttd_seconds"')[1].split("</tr>")[0]

        body = api_client_for(manager).get("/api/v1/reports/summary/?from=2026-03-02&to=2026-03-15").json()
        found = {m["key"]: m for m in body["metrics"]}
        assert found["incident_mttr_p0_p1_seconds"]["value"] == 71700
        assert found["incident_mttr_p0_p1_seconds"]["met"] is False

    def test_the_scorecard_csv_has_them(self, client, manager, fortnight, time_machine):
        time_machine.move_to(NOW, tick=False)
        client.force_login(manager)
        csv = client.get("/reports/scorecard.csv?from=2026-03-02&to=2026-03-15").content.decode()
        assert 'mttd_seconds,"MTTD, mean time to detect (incidents: detected - started)",168.0' in csv

    def test_the_incident_figures_read_four_queries_however_many_incidents(self, agent, django_assert_num_queries):
        for n in range(5):
            found = incident(agent, "P0", started=at(3 + n, 10), detected=at(3 + n, 10, 1), declared=at(3 + n, 10, 2))
            update(found, agent, at(3 + n, 10, 20))
            resolve(found, agent, at(3 + n, 11))
        incident_metrics.incident_figures(FORTNIGHT, now=NOW)  # warm the policy book
        with django_assert_num_queries(4):
            incident_metrics.incident_figures(FORTNIGHT, now=NOW)


def test_the_cadence_follows_the_policies_update_interval():
    assert incident_metrics.update_intervals() == {"P0": timedelta(minutes=30), "P1": timedelta(hours=2)}
