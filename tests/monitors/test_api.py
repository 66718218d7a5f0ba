"""The monitors API and console: agents read, managers write; the error-rate feed and its secrets."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.utils import timezone

from monitors.models import CheckResult, ErrorCount, Monitor

from .conftest import T0, make_monitor

pytestmark = pytest.mark.django_db
LIST = "/api/v1/monitors/"


@pytest.fixture
def monitors(storefront):
    return [
        make_monitor(name="Storefront home", kind="http", url="http://127.0.0.1:9/", component=storefront),
        make_monitor(name="Storefront errors", kind="error_rate", component=storefront),
        make_monitor(name="Speed", kind="performance", urls=["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]),
    ]


class TestReading:
    @pytest.mark.parametrize(("who", "status"), [(None, 401), ("customer", 403)])
    def test_only_the_desk_reads_monitors(self, request, api_client_for, monitors, who, status):
        user = request.getfixturevalue(who) if who else None
        assert api_client_for(user).get(LIST).status_code == status

    def test_agents_read_the_list_without_secrets(self, api_client_for, agent, monitors, django_assert_max_num_queries):
        with django_assert_max_num_queries(6):
            response = api_client_for(agent).get(LIST)
        assert response.status_code == 200
        rows = {row["name"]: row for row in response.json()["results"]}
        assert rows["Storefront home"]["component"] == "storefront"
        assert rows["Storefront home"]["state"] == "unknown"
        assert rows["Storefront errors"]["token"] is None
        assert rows["Storefront errors"]["events_url"] is None

    def test_the_list_costs_the_same_for_many_monitors(
        self, api_client_for, agent, monitors, storefront, django_assert_max_num_queries
    ):
        for n in range(20):
            make_monitor(kind="http", url=f"http://127.0.0.1:9/{n}", component=storefront)
        with django_assert_max_num_queries(6):
            response = api_client_for(agent).get(LIST, {"kind": "http"})
        assert response.json()["count"] == 21

    def test_managers_see_the_feeds_secret_and_address(self, api_client_for, manager, monitors):
        feed = monitors[1]
        body = api_client_for(manager).get(f"{LIST}{feed.pk}/").json()
        assert body["token"] == feed.token
        assert body["events_url"].endswith(f"/api/v1/monitors/{feed.pk}/events/")

    def test_a_filter_value_that_is_no_choice_is_a_400(self, api_client_for, agent, monitors):
        response = api_client_for(agent).get(LIST, {"state": "sideways"})
        assert response.status_code == 400
        assert "state" in response.json()

    def test_recent_results_newest_first(self, api_client_for, agent, monitors):
        monitor = monitors[0]
        for n in range(3):
            CheckResult.objects.create(monitor=monitor, scheduled_at=T0 + timedelta(seconds=30 * n), ok=n != 1)
        body = api_client_for(agent).get(f"{LIST}{monitor.pk}/results/").json()
        assert [row["ok"] for row in body["results"]] == [True, False, True]

    def test_an_unknown_monitor_is_a_404(self, api_client_for, agent):
        assert api_client_for(agent).get(f"{LIST}999/").status_code == 404

    def test_uptime_and_timing_against_their_targets(self, api_client_for, agent, monitors):
        CheckResult.objects.create(monitor=monitors[0], scheduled_at=timezone.now() - timedelta(minutes=5), ok=True)
        body = api_client_for(agent).get(f"{LIST}uptime/", {"days": 90}).json()
        storefront = next(c for c in body["components"] if c["slug"] == "storefront")
        assert storefront["uptime"]["uptime_pct"] == 100.0
        assert storefront["uptime"]["target_pct"] == 99.9
        assert len(storefront["series"]) == 90
        assert set(storefront["series"][-1]) == {"date", "uptime_pct", "worst_state"}
        assert body["timing"]["mttd_target_seconds"] == 300
        assert api_client_for(agent).get(f"{LIST}uptime/", {"days": 91}).status_code == 400


class TestWriting:
    def test_a_manager_creates_an_http_monitor_with_the_kinds_defaults(self, api_client_for, manager, storefront):
        response = api_client_for(manager).post(
            LIST, {"name": "Home", "kind": "http", "url": "http://127.0.0.1:9/", "component": "storefront"}
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert (body["severity"], body["interval_seconds"], body["failures_to_open"]) == ("P0", 30, 2)
        monitor = Monitor.objects.get(name="Home")
        assert monitor.next_run_at <= timezone.now()

    def test_business_metrics_default_to_an_internal_p1_every_5_minutes(self, api_client_for, manager):
        response = api_client_for(manager).post(
            LIST, {"name": "Orders", "kind": "business", "url": "http://127.0.0.1:9/metrics"}
        )
        body = response.json()
        assert (body["severity"], body["interval_seconds"], body["incident_public"]) == ("P1", 300, False)

    def test_agents_may_not_create(self, api_client_for, agent):
        response = api_client_for(agent).post(LIST, {"name": "Home", "kind": "http", "url": "http://127.0.0.1:9/"})
        assert response.status_code == 403

    def test_a_private_address_is_refused_unless_the_deployment_allows_it(self, api_client_for, manager, settings):
        settings.NOTIFY_ALLOW_PRIVATE_URLS = False
        response = api_client_for(manager).post(
            LIST, {"name": "Internal", "kind": "http", "url": "http://127.0.0.1:8000/healthz/"}
        )
        assert response.status_code == 400
        assert "loopback" in response.json()["url"][0]
        settings.NOTIFY_PRIVATE_URL_ALLOWLIST = ["127.0.0.0/8"]
        response = api_client_for(manager).post(
            LIST, {"name": "Internal", "kind": "http", "url": "http://127.0.0.1:8000/healthz/"}
        )
        assert response.status_code == 201

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": "x", "kind": "http"}, "url"),
            ({"name": "x", "kind": "performance"}, "urls"),
            ({"name": "x", "kind": "performance", "urls": ["ftp://127.0.0.1/"]}, "urls"),
            (
                {
                    "name": "x",
                    "kind": "business",
                    "url": "http://127.0.0.1:9/",
                    "orders_field": "",
                    "conversion_field": "",
                },
                "orders_field",
            ),
            ({"name": "x", "kind": "http", "url": "http://127.0.0.1:9/", "interval_seconds": "30"}, "interval_seconds"),
            ({"name": "x", "kind": "http", "url": "http://127.0.0.1:9/", "timeout_seconds": 30}, "timeout_seconds"),
            ({"name": "x", "kind": "http", "url": "http://127.0.0.1:9/", "json_expected": "ok"}, "json_path"),
            ({"name": "x", "kind": "http", "url": "http://127.0.0.1:9/", "severity": "P7"}, "severity"),
            ({"name": "x", "url": "http://127.0.0.1:9/"}, "kind"),
            (
                {"name": "x", "kind": "http", "url": "http://127.0.0.1:9/", "method": "HEAD", "body_contains": "OK"},
                "method",
            ),
            ({"name": "x", "kind": "error_rate", "error_rate_threshold": 2}, "error_rate_threshold"),
        ],
    )
    def test_a_configuration_that_does_not_hold_is_a_400_naming_the_field(self, api_client_for, manager, body, field):
        response = api_client_for(manager).post(LIST, body)
        assert response.status_code == 400
        assert field in response.json(), response.json()

    def test_a_manager_changes_only_what_is_sent(self, api_client_for, manager, monitors):
        monitor = monitors[0]
        response = api_client_for(manager).patch(f"{LIST}{monitor.pk}/", {"severity": "P1", "failures_to_open": 3})
        assert response.status_code == 200
        monitor.refresh_from_db()
        assert (monitor.severity, monitor.failures_to_open, monitor.url) == ("P1", 3, "http://127.0.0.1:9/")

    def test_the_kind_cannot_change(self, api_client_for, manager, monitors):
        response = api_client_for(manager).patch(f"{LIST}{monitors[0].pk}/", {"kind": "business"})
        assert response.status_code == 400
        assert "kind" in response.json()

    def test_enabling_again_makes_it_due_at_once(self, api_client_for, manager, monitors):
        monitor = monitors[0]
        client = api_client_for(manager)
        client.patch(f"{LIST}{monitor.pk}/", {"enabled": False})
        Monitor.objects.filter(pk=monitor.pk).update(next_run_at=timezone.now() + timedelta(days=1))
        client.patch(f"{LIST}{monitor.pk}/", {"enabled": True})
        monitor.refresh_from_db()
        assert monitor.next_run_at <= timezone.now()

    def test_a_manager_deletes_a_monitor_and_its_history(self, api_client_for, manager, agent, monitors):
        CheckResult.objects.create(monitor=monitors[0], scheduled_at=T0, ok=True)
        assert api_client_for(agent).delete(f"{LIST}{monitors[0].pk}/").status_code == 403
        assert api_client_for(manager).delete(f"{LIST}{monitors[0].pk}/").status_code == 204
        assert not CheckResult.objects.exists()


class TestFeed:
    @pytest.fixture
    def feed(self, monitors) -> Monitor:
        return monitors[1]

    def url(self, monitor: Monitor) -> str:
        return f"{LIST}{monitor.pk}/events/"

    def counted(self, monitor: Monitor) -> tuple[int, int]:
        row = ErrorCount.objects.filter(monitor=monitor)
        return sum(row.values_list("errors", flat=True)), sum(row.values_list("requests", flat=True))

    def test_a_bearer_token_posts_counts(self, client, feed):
        response = client.post(
            self.url(feed),
            {"errors": 3, "requests": 1000},
            content_type="application/json",
            headers={"Authorization": f"Bearer {feed.token}"},
        )
        assert response.status_code == 202
        assert response.json() == {"errors": 3, "requests": 1000}
        assert self.counted(feed) == (3, 1000)

    def test_a_trackers_event_counts_as_one_error_with_the_token_in_the_url(self, client, feed):
        event = {"action": "created", "data": {"error": {"title": "ZeroDivisionError"}}}
        for _ in range(2):
            response = client.post(f"{self.url(feed)}?token={feed.token}", event, content_type="application/json")
            assert response.status_code == 202
        assert self.counted(feed) == (2, 0)

    def test_a_body_signed_as_sentry_signs_it(self, client, feed):
        body = b'{"action": "triggered", "data": {"event": {"level": "error"}}}'
        signature = hmac.new(feed.token.encode(), body, hashlib.sha256).hexdigest()
        response = client.post(
            self.url(feed), body, content_type="application/json", headers={"Sentry-Hook-Signature": signature}
        )
        assert response.status_code == 202
        assert self.counted(feed) == (1, 0)

    @pytest.mark.parametrize(
        "headers",
        [{"Authorization": "Bearer wrong"}, {"Sentry-Hook-Signature": "00" * 32}],
    )
    def test_a_wrong_secret_is_a_404(self, client, feed, headers):
        response = client.post(self.url(feed), {"errors": 1}, content_type="application/json", headers=headers)
        assert response.status_code == 404
        assert self.counted(feed) == (0, 0)

    def test_no_secret_is_a_401(self, client, feed):
        assert client.post(self.url(feed), {"errors": 1}, content_type="application/json").status_code == 401

    def test_a_monitor_of_another_kind_has_no_feed(self, client, monitors):
        http = monitors[0]
        response = client.post(
            self.url(http),
            {"errors": 1},
            content_type="application/json",
            headers={"Authorization": f"Bearer {http.token}"},
        )
        assert response.status_code == 404

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"errors": -1}, "errors"),
            ({"requests": "10"}, "requests"),
            ({"errors": True}, "errors"),
            ([1], "non_field_errors"),
        ],
    )
    def test_a_count_that_is_not_a_whole_number_is_a_400(self, client, feed, body, field):
        response = client.post(
            self.url(feed), body, content_type="application/json", headers={"Authorization": f"Bearer {feed.token}"}
        )
        assert response.status_code == 400
        assert field in response.json()


class TestFeedLimits:
    """The feed is behind the desk's one limiter: per monitor (posts its secret let in) and per client address."""

    @pytest.fixture
    def feeds(self, storefront) -> list[Monitor]:
        return [make_monitor(name=f"Errors {n}", kind="error_rate", component=storefront) for n in range(2)]

    def post(self, client, monitor: Monitor, body=None, **headers):
        return client.post(
            f"{LIST}{monitor.pk}/events/",
            {"errors": 1} if body is None else body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {monitor.token}", **headers},
        )

    def test_the_n_plus_first_post_to_a_feed_is_a_429_and_another_feed_is_unaffected(self, client, settings, feeds):
        settings.RATELIMITS = {**settings.RATELIMITS, "monitor_feed": "3/m", "monitor_feed_ip": "100/m"}
        noisy, quiet = feeds
        assert [self.post(client, noisy).status_code for _ in range(3)] == [202] * 3

        refused = self.post(client, noisy)

        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused["Retry-After"]) <= 60
        assert ErrorCount.objects.filter(monitor=noisy).get().errors == 3  # the refused post counted nothing
        assert self.post(client, quiet).status_code == 202
        assert ErrorCount.objects.filter(monitor=quiet).get().errors == 1

    def test_posts_without_the_secret_spend_nothing_of_the_feeds_allowance(self, client, settings, feeds):
        settings.RATELIMITS = {**settings.RATELIMITS, "monitor_feed": "2/m", "monitor_feed_ip": "100/m"}
        feed = feeds[0]
        for _ in range(5):
            assert self.post(client, feed, Authorization="Bearer wrong").status_code == 404
        assert [self.post(client, feed).status_code for _ in range(3)] == [202, 202, 429]

    def test_an_address_over_its_limit_is_a_429_whatever_the_feed_or_secret(self, client, settings, feeds):
        settings.RATELIMITS = {**settings.RATELIMITS, "monitor_feed": "100/m", "monitor_feed_ip": "3/m"}
        first, second = feeds
        assert self.post(client, first).status_code == 202
        assert self.post(client, second).status_code == 202
        assert self.post(client, first, Authorization="Bearer wrong").status_code == 404
        for feed in feeds:
            refused = self.post(client, feed)
            assert refused.status_code == 429
            assert int(refused["Retry-After"]) >= 1
        # Another client address has its own allowance.
        other = client.post(
            f"{LIST}{first.pk}/events/",
            {"errors": 1},
            content_type="application/json",
            headers={"Authorization": f"Bearer {first.token}"},
            REMOTE_ADDR="192.0.2.7",
        )
        assert other.status_code == 202

    @pytest.mark.parametrize(
        ("body", "content_type"),
        [
            (b"", "application/json"),
            (b"   ", "application/json"),
            (b"{not json", "application/json"),
            (b"\xff\xfe{}", "application/json"),
            (b"[" * 10_000 + b"]" * 10_000, "application/json"),
            (b'{"errors": 1e400}', "application/json"),
            (b'{"errors": ' + b"9" * 5000 + b"}", "application/json"),
            (b'{"errors": null}', "application/json"),
            (b'"a string"', "application/json"),
            (b"errors=1", "application/x-www-form-urlencoded"),
            (b"\x00", "application/json"),
        ],
    )
    def test_a_bad_body_is_a_4xx_never_a_500(self, client, feeds, body, content_type):
        feed = feeds[0]
        response = client.post(
            f"{LIST}{feed.pk}/events/",
            body,
            content_type=content_type,
            headers={"Authorization": f"Bearer {feed.token}"},
        )
        assert response.status_code in (400, 415), response.content[:200]
        assert not ErrorCount.objects.exists()

    def test_an_oversized_body_is_a_413(self, client, settings, feeds):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
        feed = feeds[0]
        body = b'{"message": "' + b"x" * 20_000 + b'"}'
        response = client.post(
            f"{LIST}{feed.pk}/events/",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {feed.token}"},
        )
        assert response.status_code == 413
        assert not ErrorCount.objects.exists()


class TestConsole:
    def test_agents_see_the_list_with_state_last_result_and_latency(self, client, agent, monitors):
        Monitor.objects.filter(pk=monitors[0].pk).update(
            state="down", last_ok=False, last_message="HTTP 503 (expected 200)", last_latency_ms=42
        )
        client.force_login(agent)
        page = client.get("/admin/monitors/monitor/").content.decode()
        assert "Storefront home" in page
        assert "failed: HTTP 503 (expected 200)" in page
        assert "42 ms" in page

    def test_the_change_page_shows_the_recent_checks_and_uptime(self, client, manager, monitors):
        CheckResult.objects.create(
            monitor=monitors[0], scheduled_at=timezone.now(), ok=False, latency_ms=12, message="HTTP 500 (expected 200)"
        )
        client.force_login(manager)
        page = client.get(f"/admin/monitors/monitor/{monitors[0].pk}/change/").content.decode()
        assert "HTTP 500 (expected 200)" in page
        assert "30 days:" in page

    def test_only_managers_see_a_feeds_secret(self, client, agent, manager, monitors):
        feed = monitors[1]
        client.force_login(agent)
        assert feed.token not in client.get(f"/admin/monitors/monitor/{feed.pk}/change/").content.decode()
        client.force_login(manager)
        assert feed.token in client.get(f"/admin/monitors/monitor/{feed.pk}/change/").content.decode()

    def test_agents_cannot_add_monitors(self, client, agent):
        client.force_login(agent)
        assert client.get("/admin/monitors/monitor/add/").status_code == 403

    def test_a_manager_adds_one_with_the_kinds_defaults(self, client, manager, storefront):
        client.force_login(manager)
        form = {
            "name": "Checkout",
            "kind": "http",
            "component": storefront.pk,
            "severity": "",
            "interval_seconds": "",
            "enabled": "on",
            "incident_public": "on",
            "failures_to_open": 2,
            "recoveries_to_close": 2,
            "flap_threshold": 4,
            "flap_hold_minutes": 15,
            "url": "http://127.0.0.1:9/checkout",
            "method": "GET",
            "expected_status": 200,
            "timeout_seconds": 10,
            "urls": "",
            "samples": 3,
            "p50_threshold_ms": 1000,
            "p95_threshold_ms": 2000,
            "orders_field": "orders",
            "conversion_field": "conversion_rate",
            "drop_fraction": 0.5,
            "error_rate_threshold": 0.001,
            "window_seconds": 300,
            "min_requests": 100,
        }
        response = client.post("/admin/monitors/monitor/add/", form)
        assert response.status_code == 302, response.context["adminform"].form.errors
        monitor = Monitor.objects.get(name="Checkout")
        assert (monitor.severity, monitor.interval_seconds) == ("P0", 30)
        form.update(name="Bad", url="")
        response = client.post("/admin/monitors/monitor/add/", form)
        assert response.status_code == 200
        assert "url" in response.context["adminform"].form.errors

    def test_check_now_makes_them_due(self, client, manager, monitors):
        Monitor.objects.update(next_run_at=timezone.now() + timedelta(hours=1))
        client.force_login(manager)
        client.post(
            "/admin/monitors/monitor/", {"action": "check_now", "_selected_action": [monitors[0].pk]}, follow=True
        )
        monitors[0].refresh_from_db()
        assert monitors[0].next_run_at <= timezone.now()

    def test_a_manager_replaces_a_leaked_feed_secret(self, client, manager, monitors):
        feed = monitors[1]
        old = feed.token
        client.force_login(manager)
        client.post("/admin/monitors/monitor/", {"action": "new_feed_secret", "_selected_action": [feed.pk]})
        feed.refresh_from_db()
        assert feed.token != old
        response = client.post(
            f"/api/v1/monitors/{feed.pk}/events/",
            {"errors": 1},
            content_type="application/json",
            headers={"Authorization": f"Bearer {old}"},
        )
        assert response.status_code == 404
