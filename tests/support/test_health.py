"""GET /healthz/ (liveness) and GET /readyz/ (readiness): answered to anyone, revealing nothing sensitive.

/readyz/ carries the SLA sweep's dead-man's switch that /healthz/ used to (SL-9): 503 when the
last sweep finished more than two intervals ago. /healthz/ only says the process answers.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.core.cache import caches
from django.db import DatabaseError

from escalation import services
from escalation.models import SweepRun
from notifications.models import Notification
from sofacover.cache import cache_config
from support import health, usecases
from tests.escalation.processes import REDIS_SERVER, RedisServer
from tests.tickets.factories import TicketFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def ready(client, *checks: str):
    return client.get("/readyz/", {"check": list(checks)} if checks else {})


def sweep(client, response=None) -> dict:
    return (response or ready(client, "sla_sweep")).json()["checks"]["sla_sweep"]


@pytest.fixture(autouse=True)
def broker_folders(settings, tmp_path):
    """Each test says which Redis it checks: by default the per-process cache and a file-system broker."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    folders = {name: tmp_path / "broker" / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
    }
    return folders


class TestHealthzIsLiveness:
    def test_answers_ok_without_a_query_or_a_session(self, client, django_assert_num_queries):
        with django_assert_num_queries(0):
            response = client.get("/healthz/")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response["Content-Type"] == "application/json"
        assert "no-cache" in response["Cache-Control"]
        assert "sessionid" not in response.cookies

    def test_stays_up_with_the_database_down_and_no_sweep_ever(self, client):
        # A restart fixes neither: the process must not be killed for them.
        with mock.patch("django.db.backends.base.base.BaseDatabaseWrapper.cursor", side_effect=DatabaseError("x")):
            assert client.get("/healthz/").status_code == 200
        assert not SweepRun.objects.exists()

    def test_answers_without_the_slash_and_to_head(self, client):
        assert client.get("/healthz").status_code == 200
        assert client.head("/healthz/").status_code == 200

    def test_refuses_other_methods(self, client):
        assert client.post("/healthz/").status_code == 405


class TestReadyzSweep:
    """The sweep's dead-man's switch, for an external uptime monitor."""

    def test_reports_ok_right_after_a_sweep(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 30
        with time_machine.travel(T0, tick=False):
            usecases.sla_sweep(now=T0)
            response = ready(client)

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert "no-cache" in response["Cache-Control"]
        assert response.json() == {
            "status": "ok",
            "checks": {
                "database": {"status": "ok"},
                "cache": {"status": "ok"},
                "broker": {"status": "ok"},
                "sla_sweep": {
                    "status": "ok",
                    "last_started_at": "2026-03-02T09:00:00+00:00",
                    "last_finished_at": "2026-03-02T09:00:00+00:00",
                    "stale_after_seconds": 60,
                },
                "outbox": {"status": "ok", "oldest_due_age_seconds": 0, "max_age_seconds": 300},
            },
        }

    def test_stays_ok_for_two_intervals_to_the_second(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 30
        usecases.sla_sweep(now=T0)
        with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
            response = ready(client)

        assert response.status_code == 200
        assert sweep(client, response)["status"] == "ok"

    def test_reports_stale_with_503_after_61_seconds_without_a_sweep(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 30
        usecases.sla_sweep(now=T0)
        with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
            response = ready(client)

        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded"
        assert body["checks"]["database"] == {"status": "ok"}
        assert body["checks"]["sla_sweep"]["status"] == "error"
        assert body["checks"]["sla_sweep"]["last_finished_at"] == "2026-03-02T09:00:00+00:00"

    def test_recovers_when_the_beat_comes_back(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 30
        usecases.sla_sweep(now=T0)
        later = T0 + timedelta(minutes=10)
        with time_machine.travel(later, tick=False):
            assert ready(client).status_code == 503
            usecases.sla_sweep(now=later)
            assert ready(client).status_code == 200

    def test_follows_the_configured_interval(self, client, settings):
        settings.SLA_SWEEP_SECONDS = 300
        usecases.sla_sweep(now=T0)
        with time_machine.travel(T0 + timedelta(seconds=599), tick=False):
            assert ready(client).status_code == 200
        with time_machine.travel(T0 + timedelta(seconds=601), tick=False):
            assert ready(client).status_code == 503

    def test_a_sweep_that_started_but_never_finished_is_stale(self, client):
        SweepRun.objects.create(name=services.SWEEP, last_started_at=T0, last_finished_at=T0 - timedelta(hours=1))
        with time_machine.travel(T0 + timedelta(seconds=10), tick=False):
            response = ready(client)

        assert response.status_code == 503
        assert sweep(client, response)["last_started_at"] == "2026-03-02T09:00:00+00:00"

    def test_no_sweep_ever_is_stale(self, client):
        response = ready(client)

        assert response.status_code == 503
        assert sweep(client, response) == {
            "status": "error",
            "last_started_at": None,
            "last_finished_at": None,
            "stale_after_seconds": 60,
        }

    def test_a_heartbeat_from_the_future_does_not_hide_a_stopped_beat(self, client):
        usecases.sla_sweep(now=T0 + timedelta(days=1))  # run_escalations --at tomorrow
        with time_machine.travel(T0, tick=False):
            assert ready(client).status_code == 503


class TestReadyzDatabase:
    def test_an_unreachable_database_is_degraded_without_details(self, client):
        usecases.sla_sweep(now=T0)
        with (
            time_machine.travel(T0, tick=False),
            mock.patch("support.health.connection.cursor", side_effect=DatabaseError("password=secret host=db-7")),
        ):
            response = ready(client)

        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"] == {"status": "error"}
        # What reads the database is not tried, and fails with it.
        assert checks["sla_sweep"] == {"status": "error"}
        assert checks["outbox"]["status"] == "error"
        assert b"secret" not in response.content
        assert b"db-7" not in response.content

    def test_a_read_that_fails_after_the_ping_is_an_error_not_a_500(self, client):
        with mock.patch("support.health.sweep_state", side_effect=DatabaseError("relation does not exist")):
            response = ready(client)

        assert response.status_code == 503
        assert sweep(client, response) == {"status": "error"}
        assert b"relation" not in response.content

    def test_every_check_costs_three_queries_and_no_session(self, client, django_assert_num_queries):
        usecases.sla_sweep(now=T0)
        with time_machine.travel(T0, tick=False), django_assert_num_queries(3):  # SELECT 1, the sweep, the outbox
            response = ready(client)

        assert response.status_code == 200
        assert "sessionid" not in response.cookies


class TestReadyzOutbox:
    def test_fails_when_the_oldest_due_notification_waited_past_the_limit(self, client, settings):
        settings.READYZ_OUTBOX_MAX_AGE_SECONDS = 300
        TicketFactory(created_at=T0)  # the acknowledgment and the agents' alerts, due at T0
        assert Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at=T0).exists()

        with time_machine.travel(T0 + timedelta(seconds=300), tick=False):
            at_limit = ready(client, "outbox")
        with time_machine.travel(T0 + timedelta(seconds=301), tick=False):
            past = ready(client, "outbox")

        assert at_limit.status_code == 200
        assert at_limit.json()["checks"]["outbox"] == {
            "status": "ok",
            "oldest_due_age_seconds": 300,
            "max_age_seconds": 300,
        }
        assert past.status_code == 503
        assert past.json()["checks"]["outbox"]["status"] == "error"

    def test_rows_waiting_for_their_retry_or_already_sent_are_no_backlog(self, client):
        TicketFactory(created_at=T0)
        Notification.objects.filter(channel=Notification.Channel.EMAIL).update(status=Notification.Status.SENT)
        Notification.objects.exclude(channel=Notification.Channel.EMAIL).update(
            next_attempt_at=T0 + timedelta(hours=1)  # backing off after a failed attempt
        )
        with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
            response = ready(client, "outbox")

        assert response.status_code == 200
        assert response.json()["checks"]["outbox"]["oldest_due_age_seconds"] == 0


class TestReadyzBroker:
    def test_a_missing_broker_folder_fails_the_broker_check(self, client, broker_folders):
        assert ready(client, "broker").status_code == 200
        broker_folders["queue"].rmdir()

        response = ready(client, "broker")

        assert response.status_code == 503
        assert response.json()["checks"] == {"broker": {"status": "error"}}
        assert b"broker/queue" not in response.content


class TestReadyzSelection:
    def test_a_probe_may_ask_for_what_the_web_process_needs_only(self, client):
        # No sweep ever: the full check fails, the load balancer's does not.
        assert ready(client).status_code == 503
        response = ready(client, "database", "cache")

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": {"status": "ok"}, "cache": {"status": "ok"}}}

    def test_an_unknown_check_is_a_400_naming_the_checks(self, client):
        response = ready(client, "database", "disk")

        assert response.status_code == 400
        assert "sla_sweep" in response.json()["check"][0]

    def test_answers_without_the_slash_and_refuses_other_methods(self, client):
        assert client.get("/readyz", {"check": "database"}).status_code == 200
        assert client.post("/readyz/").status_code == 405


class TestReadyzRedis:
    """The cache and the broker on a Redis this test starts, then stops, then starts again."""

    @pytest.fixture
    def redis_server(self, tmp_path):
        if not shutil.which(REDIS_SERVER):
            pytest.skip("needs the redis-server binary")
        server = RedisServer(workdir=tmp_path / "redis").start()
        yield server
        server.stop()

    def test_fails_while_redis_is_down_and_recovers_when_it_is_back(self, client, settings, redis_server):
        settings.CACHES = {"default": cache_config(redis_server.url)}
        settings.CELERY_BROKER_URL = redis_server.url
        assert caches["default"].__class__.__name__ == "ResilientRedisCache"

        up = ready(client, "database", "cache", "broker")
        assert up.status_code == 200, up.content

        port = redis_server.port
        redis_server.stop()
        down = ready(client, "database", "cache", "broker")

        assert down.status_code == 503
        assert down.json()["checks"] == {
            "database": {"status": "ok"},
            "cache": {"status": "error"},
            "broker": {"status": "error"},
        }
        assert str(port).encode() not in down.content
        assert b"127.0.0.1" not in down.content
        assert b"Error" not in down.content

        redis_server.port = port
        redis_server.start()
        assert ready(client, "database", "cache", "broker").status_code == 200


class TestNothingSensitive:
    def test_the_body_names_only_statuses_timestamps_and_ages(self, client):
        usecases.sla_sweep(now=T0)
        body = ready(client).json()

        def leaves(value):
            if isinstance(value, dict):
                for item in value.values():
                    yield from leaves(item)
            else:
                yield value

        assert set(body) == {"status", "checks"}
        assert set(body["checks"]) == set(health.CHECKS)
        for leaf in leaves(body):
            assert leaf is None or isinstance(leaf, int) or leaf in {"ok", "error", "degraded"} or leaf.startswith("20")
        assert "version" not in json.dumps(body).lower()


class TestProbesOverPlainHttp:
    """With debug off the desk redirects plain HTTP to HTTPS; probes and the scraper call it directly."""

    def test_the_probes_and_metrics_are_not_redirected(self, client, settings):
        settings.SECURE_SSL_REDIRECT = True
        usecases.sla_sweep(now=T0)

        assert client.get("/admin/login/").status_code == 301
        assert client.get("/healthz/").status_code == 200
        assert client.get("/healthz").status_code == 200
        with time_machine.travel(T0, tick=False):
            assert client.get("/readyz/").status_code == 200
        assert client.get("/metrics").status_code == 200
