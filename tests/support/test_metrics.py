"""GET /metrics: Prometheus text, read back with prometheus-client's own parser; who may scrape it."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import DatabaseError
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from escalation.models import SlaBreach
from notifications.models import Notification
from support import tasks, usecases
from tests.tickets.factories import TicketFactory, make_user
from tickets.models import Ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROOT = Path(django_settings.BASE_DIR)
pytestmark = pytest.mark.django_db


def scrape(client: Client | None = None, **extra) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, parsed by prometheus-client: (sample name, sorted labels) -> value."""
    response = (client or Client()).get("/metrics", **extra)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def families(client: Client | None = None) -> dict[str, str]:
    """Family name -> type, as the parser reads them."""
    response = (client or Client()).get("/metrics")
    return {family.name: family.type for family in text_string_to_metric_families(response.content.decode())}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- who may scrape ----------------------------------------------------------------------------


class TestAccess:
    def test_loopback_may_scrape_by_default(self):
        assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
        assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200

    def test_another_address_gets_404_signed_in_or_not(self, agent):
        assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics").status_code == 404
        client = Client(REMOTE_ADDR="203.0.113.9")
        client.force_login(agent)
        assert client.get("/metrics").status_code == 404

    def test_the_bearer_token_admits_any_address(self, settings):
        settings.METRICS_TOKEN = "s3cret-scrape-token"
        client = Client(REMOTE_ADDR="203.0.113.9")

        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200

    @pytest.mark.parametrize(
        "header",
        ["Bearer wrong", "Bearer s3cret-scrape-token-longer", "Token s3cret-scrape-token", "Bearer", "Béarer x"],
    )
    def test_a_wrong_token_is_403_even_from_loopback(self, settings, header):
        settings.METRICS_TOKEN = "s3cret-scrape-token"

        response = Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_AUTHORIZATION=header)

        assert response.status_code == 403
        assert b"desk_" not in response.content

    def test_no_token_configured_admits_no_bearer(self, settings):
        settings.METRICS_TOKEN = ""
        assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403

    def test_the_allow_list_takes_networks(self, settings):
        settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "2001:db8::/32"]

        assert Client(REMOTE_ADDR="10.20.30.40").get("/metrics").status_code == 200
        assert Client(REMOTE_ADDR="2001:db8::5").get("/metrics").status_code == 200
        assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 404

    @pytest.mark.parametrize("header", ["HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP"])
    def test_a_request_through_an_unknown_proxy_is_not_let_in_by_address(self, settings, header):
        # A proxy on the same host makes every client look like loopback.
        settings.TRUSTED_PROXIES = 0
        meta: dict[str, Any] = {"REMOTE_ADDR": "127.0.0.1", header: "203.0.113.9"}
        response = Client(**meta).get("/metrics")
        assert response.status_code == 404

    def test_behind_a_trusted_proxy_the_forwarded_client_counts(self, settings):
        settings.TRUSTED_PROXIES = 1
        settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
        proxy = Client(REMOTE_ADDR="127.0.0.1")

        assert proxy.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 200
        assert proxy.get("/metrics", HTTP_X_FORWARDED_FOR="10.1.2.3, 203.0.113.9").status_code == 404

    def test_refuses_other_methods(self):
        assert Client().post("/metrics").status_code == 405


# --- what it says ------------------------------------------------------------------------------


class TestRequests:
    def test_counts_responses_by_view_method_and_status_with_latency(self):
        before = scrape()
        client = Client()
        for _ in range(3):
            client.get("/healthz/")
        client.get("/readyz/")  # 503: no sweep ever
        client.get("/no-such-page/")
        after = scrape()

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        responses = "django_http_responses_total_by_status_view_method_total"
        assert delta(responses, view="healthz", method="GET", status="200") == 3
        assert delta(responses, view="readyz", method="GET", status="503") == 1
        # An unknown path is one label value, not one per path.
        assert delta(responses, view="<unnamed view>", method="GET", status="404") == 1
        latency = "django_http_requests_latency_seconds_by_view_method"
        assert delta(f"{latency}_count", view="healthz", method="GET") == 3
        assert delta(f"{latency}_bucket", view="healthz", method="GET", le="+Inf") == 3
        assert delta(f"{latency}_sum", view="healthz", method="GET") > 0
        assert families()[latency] == "histogram"


class TestCeleryTasks:
    def test_counts_tasks_by_state_with_durations(self):
        before = scrape()
        tasks.close_resolved_tickets.apply()
        with mock.patch("support.usecases.close_resolved", side_effect=RuntimeError("boom")):
            tasks.close_resolved_tickets.apply()
        after = scrape()

        name = "support.tasks.close_resolved_tickets"
        for state in ("SUCCESS", "FAILURE"):
            counted = value(after, "celery_tasks_total", task=name, state=state)
            assert counted - value(before, "celery_tasks_total", task=name, state=state) == 1
        durations = value(after, "celery_task_duration_seconds_count", task=name)
        assert durations - value(before, "celery_task_duration_seconds_count", task=name) == 2

    def test_adds_up_the_tasks_of_every_process_sharing_the_multiprocess_dir(self, settings, tmp_path):
        """Two other processes run a task each with PROMETHEUS_MULTIPROC_DIR set; the scrape sums them."""
        directory = tmp_path / "prometheus"
        directory.mkdir()
        script = "import django; django.setup(); from support.tasks import fetch_mail; fetch_mail.apply()"
        env = {
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
            "DJANGO_SETTINGS_MODULE": "sofacover.settings_test",
            "SOFACOVER_VAR_DIR": str(tmp_path / "var"),
            "MAIL_IMAP_HOST": "",
        }
        for _ in range(2):
            subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=True, timeout=120)
        settings.PROMETHEUS_MULTIPROC_DIR = str(directory)

        samples = scrape()

        assert value(samples, "celery_tasks_total", task="support.tasks.fetch_mail", state="SUCCESS") == 2
        assert value(samples, "celery_task_duration_seconds_count", task="support.tasks.fetch_mail") == 2
        # The desk's own figures are read at scrape time, whatever the mode.
        assert value(samples, "desk_metrics_source_up", source="outbox") == 1


class TestDeskFigures:
    def test_outbox_backlog_and_age(self):
        TicketFactory(created_at=T0)  # the acknowledgment mail and the agents' alerts, due at T0
        due = Notification.objects.filter(status=Notification.Status.PENDING, next_attempt_at__lte=T0)
        by_channel = {channel: due.filter(channel=channel).count() for channel in Notification.Channel.values}
        assert by_channel["email"] >= 1
        Notification.objects.create(  # backing off after a failure: not due yet, no backlog
            channel="email",
            kind="system",
            recipient="ops@sofacoverpro.com",
            body="x",
            dedupe_key="later",
            next_attempt_at=T0 + timedelta(hours=1),
            created_at=T0,
        )

        with time_machine.travel(T0 + timedelta(seconds=90), tick=False):
            samples = scrape()

        for channel, count in by_channel.items():
            assert value(samples, "desk_outbox_due", channel=channel) == count
        assert value(samples, "desk_outbox_oldest_due_age_seconds") == 90

        Notification.objects.update(status=Notification.Status.SENT)
        with time_machine.travel(T0 + timedelta(seconds=90), tick=False):
            samples = scrape()
        assert value(samples, "desk_outbox_due", channel="email") == 0
        assert value(samples, "desk_outbox_oldest_due_age_seconds") == 0

    def test_sweep_lag(self):
        assert math.isinf(value(scrape(), "desk_sla_sweep_lag_seconds"))

        usecases.sla_sweep(now=T0)
        with time_machine.travel(T0 + timedelta(seconds=75), tick=False):
            assert value(scrape(), "desk_sla_sweep_lag_seconds") == 75

    def test_tickets_due_for_the_sweep(self):
        first, second, third = (TicketFactory(created_at=T0) for _ in range(3))
        Ticket.objects.filter(pk__in=[first.pk, second.pk]).update(sla_next_check_at=T0 + timedelta(minutes=5))
        Ticket.objects.filter(pk=third.pk).update(sla_next_check_at=T0 + timedelta(hours=5))

        with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
            assert value(scrape(), "desk_tickets_sla_due") == 2

    def test_breaches_of_the_last_hour_and_day(self):
        ticket = TicketFactory(created_at=T0 - timedelta(days=2), priority="P1")
        for kind, ago in (("first_response", 30), ("first_response", 300), ("resolution", 45), ("resolution", 3000)):
            SlaBreach.objects.create(
                ticket=ticket,
                kind=kind,
                due_at=T0 - timedelta(minutes=ago + 1),
                breached_at=T0 - timedelta(minutes=ago),
                tier=1,
                priority="P1",
            )

        with time_machine.travel(T0, tick=False):
            samples = scrape()

        assert value(samples, "desk_sla_breaches", window="1h", kind="first_response", priority="P1") == 1
        assert value(samples, "desk_sla_breaches", window="24h", kind="first_response", priority="P1") == 2
        assert value(samples, "desk_sla_breaches", window="1h", kind="resolution", priority="P1") == 1
        assert value(samples, "desk_sla_breaches", window="24h", kind="resolution", priority="P1") == 1  # 50 h ago: out

    def test_open_incidents_by_severity(self, agent):
        for severity in ("P0", "P1", "P1"):
            usecases.declare_incident(declared_by=agent, now=T0, severity=severity, title="Checkout", impact="Down")

        samples = scrape()

        assert {s: value(samples, "desk_incidents_open", severity=s) for s in ("P0", "P1", "P2", "P3")} == {
            "P0": 1,
            "P1": 2,
            "P2": 0,
            "P3": 0,
        }

    def test_a_scrape_costs_five_queries_whatever_the_desk_holds(self, django_assert_num_queries):
        customer = make_user("many@example.com")
        for _ in range(5):
            TicketFactory(created_at=T0, requester=customer)
        with django_assert_num_queries(5):  # outbox, sweep, due tickets, breaches, incidents
            Client().get("/metrics")

    def test_a_source_that_cannot_read_is_left_out_and_says_so(self):
        with mock.patch("support.metrics.notification_selectors.outbox_backlog", side_effect=DatabaseError("pw=x")):
            response = Client().get("/metrics")

        assert response.status_code == 200
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(response.content.decode())
            for s in f.samples
        }
        assert value(samples, "desk_metrics_source_up", source="outbox") == 0
        assert value(samples, "desk_metrics_source_up", source="sla") == 1
        assert ("desk_outbox_oldest_due_age_seconds", ()) not in samples
        assert b"pw=x" not in response.content

    def test_every_desk_family_has_its_type(self):
        assert {name: kind for name, kind in families().items() if name.startswith(("desk_", "celery_"))} == {
            "desk_outbox_due": "gauge",
            "desk_outbox_oldest_due_age_seconds": "gauge",
            "desk_sla_sweep_lag_seconds": "gauge",
            "desk_tickets_sla_due": "gauge",
            "desk_sla_breaches": "gauge",
            "desk_incidents_open": "gauge",
            "desk_metrics_source_up": "gauge",
            "celery_tasks": "counter",
            "celery_task_duration_seconds": "histogram",
        }
