"""GET /healthz/: the sweep's dead-man's switch, answered to anyone, 503 when something is wrong (SL-9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.db import DatabaseError

from escalation import services
from escalation.models import SweepRun
from support import usecases

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def get(client):
    return client.get("/healthz/")


class TestHealthz:
    def test_reports_ok_right_after_a_sweep(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 30
        with time_machine.travel(T0, tick=False):
            usecases.sla_sweep(now=T0)
            response = get(client)

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert "no-cache" in response["Cache-Control"]
        assert response.json() == {
            "status": "ok",
            "database": "ok",
            "sla_sweep": {
                "last_started_at": "2026-03-02T09:00:00+00:00",
                "last_finished_at": "2026-03-02T09:00:00+00:00",
                "stale": False,
                "stale_after_seconds": 60,
            },
        }

    def test_stays_ok_for_two_intervals_to_the_second(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 30
        usecases.sla_sweep(now=T0)
        with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
            response = get(client)

        assert response.status_code == 200
        assert response.json()["sla_sweep"]["stale"] is False

    def test_reports_stale_with_503_after_61_seconds_without_a_sweep(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 30
        usecases.sla_sweep(now=T0)
        with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
            response = get(client)

        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded"
        assert body["database"] == "ok"
        assert body["sla_sweep"]["stale"] is True
        assert body["sla_sweep"]["last_finished_at"] == "2026-03-02T09:00:00+00:00"

    def test_recovers_when_the_beat_comes_back(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 30
        usecases.sla_sweep(now=T0)
        later = T0 + timedelta(minutes=10)
        with time_machine.travel(later, tick=False):
            assert get(client).status_code == 503
            usecases.sla_sweep(now=later)
            assert get(client).status_code == 200

    def test_follows_the_configured_interval(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 300
        usecases.sla_sweep(now=T0)
        with time_machine.travel(T0 + timedelta(seconds=599), tick=False):
            assert get(client).status_code == 200
        with time_machine.travel(T0 + timedelta(seconds=601), tick=False):
            assert get(client).status_code == 503

    def test_a_sweep_that_started_but_never_finished_is_stale(self, client):
        SweepRun.objects.create(name=services.SWEEP, last_started_at=T0, last_finished_at=T0 - timedelta(hours=1))
        with time_machine.travel(T0 + timedelta(seconds=10), tick=False):
            response = get(client)

        assert response.status_code == 503
        assert response.json()["sla_sweep"]["last_started_at"] == "2026-03-02T09:00:00+00:00"

    def test_no_sweep_ever_is_stale(self, client):
        response = get(client)

        assert response.status_code == 503
        assert response.json()["sla_sweep"] == {
            "last_started_at": None,
            "last_finished_at": None,
            "stale": True,
            "stale_after_seconds": 60,
        }

    def test_a_heartbeat_from_the_future_does_not_hide_a_stopped_beat(self, client):
        usecases.sla_sweep(now=T0 + timedelta(days=1))  # run_escalations --at tomorrow
        with time_machine.travel(T0, tick=False):
            assert get(client).status_code == 503

    def test_an_unreachable_database_is_degraded_without_details(self, client):
        usecases.sla_sweep(now=T0)
        with (
            time_machine.travel(T0, tick=False),
            mock.patch("escalation.health.connection.cursor", side_effect=DatabaseError("password=secret")),
        ):
            response = get(client)

        assert response.status_code == 503
        assert response.json()["database"] == "error"
        assert b"secret" not in response.content

    def test_answers_anonymous_callers_with_no_session_and_one_query(self, client, django_assert_num_queries):
        usecases.sla_sweep(now=T0)
        with time_machine.travel(T0, tick=False), django_assert_num_queries(2):  # SELECT 1, the SweepRun row
            response = get(client)

        assert response.status_code == 200
        assert "sessionid" not in response.cookies

    def test_refuses_other_methods(self, client):
        assert client.post("/healthz/").status_code == 405
