"""Monitors against a shop on loopback (tests/monitors/target.py), with time as an input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidents.models import Component
from monitors import services
from monitors.models import Monitor
from support import usecases

from .target import Target

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _loopback(settings):
    """Monitor URLs pass the SSRF guard of alert destinations; the test's shop is on loopback."""
    settings.NOTIFY_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def target():
    shop = Target().start()
    yield shop
    shop.stop()


@pytest.fixture
def storefront(db) -> Component:
    return Component.objects.get(slug="storefront")


def make_monitor(*, now: datetime = T0, **fields) -> Monitor:
    fields.setdefault("name", f"monitor {Monitor.objects.count() + 1}")
    return services.monitor_create(now=now, **fields)


def run(at: datetime, seconds: float = 0):
    """One pass of the runner as of ``at`` (+ seconds)."""
    return usecases.monitor_checks(now=at + timedelta(seconds=seconds))


def fresh(monitor: Monitor) -> Monitor:
    monitor.refresh_from_db()
    return monitor
