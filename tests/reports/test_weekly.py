"""The weekly summary: Monday 08:00 desk time, through the outbox, once per ISO week."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from celery.schedules import crontab
from django.conf import settings

from notifications.models import Notification
from reports import services, tasks
from tests.tickets.factories import make_user

pytestmark = pytest.mark.django_db
# Monday 9 March 2026, 08:00 in London (GMT).
MONDAY_8 = datetime(2026, 3, 9, 8, 0, tzinfo=UTC)


def summaries():
    return Notification.objects.filter(dedupe_key__startswith="weekly-summary:")


@pytest.fixture
def managers(manager):
    return [manager, make_user("second.manager@sofacoverpro.com", "manager")]


class TestWeeklySummary:
    def test_each_manager_gets_last_weeks_summary(self, managers, agent, settings, time_machine):
        settings.DESK_BASE_URL = "https://desk.example"
        time_machine.move_to(MONDAY_8, tick=False)
        assert tasks.weekly_summary() == 2
        rows = list(summaries().order_by("recipient"))
        assert sorted(r.recipient for r in rows) == sorted(m.email for m in managers)
        assert {r.dedupe_key.rsplit(":", 1)[0] for r in rows} == {"weekly-summary:2026-W10"}
        assert all(r.channel == "email" for r in rows)
        assert "2026-W10" in rows[0].subject
        assert "CSAT average" in rows[0].body
        assert "https://desk.example/reports/?from=2026-03-02&to=2026-03-08" in rows[0].body
        assert agent.email not in {r.recipient for r in rows}

    def test_beat_firing_twice_sends_once(self, managers, time_machine):
        time_machine.move_to(MONDAY_8, tick=False)
        tasks.weekly_summary()
        time_machine.move_to(datetime(2026, 3, 9, 8, 0, 30, tzinfo=UTC), tick=False)
        assert tasks.weekly_summary() == 0
        time_machine.move_to(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), tick=False)  # a late retry on Tuesday
        assert tasks.weekly_summary() == 0
        assert summaries().count() == 2

    def test_the_next_week_sends_again(self, managers, time_machine):
        time_machine.move_to(MONDAY_8, tick=False)
        tasks.weekly_summary()
        time_machine.move_to(datetime(2026, 3, 16, 8, 0, tzinfo=UTC), tick=False)
        assert tasks.weekly_summary() == 2
        assert summaries().count() == 4

    def test_previous_week_is_in_desk_time_across_dst(self):
        # Monday 30 March 2026 08:00 BST is 07:00 UTC; Sunday 29 March was the DST change.
        assert services.previous_week(now=datetime(2026, 3, 30, 7, 0, tzinfo=UTC)) == (
            date(2026, 3, 23),
            date(2026, 3, 29),
        )
        # 23:30 UTC on Sunday 29 March is already Monday 00:30 in London.
        assert services.previous_week(now=datetime(2026, 3, 29, 23, 30, tzinfo=UTC)) == (
            date(2026, 3, 23),
            date(2026, 3, 29),
        )


def test_beat_runs_it_monday_0800_in_the_desks_zone():
    entry = settings.CELERY_BEAT_SCHEDULE["weekly-summary"]
    assert entry["task"] == "reports.tasks.weekly_summary"
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert (schedule.minute, schedule.hour, schedule.day_of_week) == ({0}, {8}, {1})
    assert settings.CELERY_TIMEZONE == settings.TIME_ZONE == "Europe/London"
