"""The shared cache fails open: with Redis gone, requests still succeed."""

import socket

import pytest
from django.core.cache import caches
from django.test import Client
from rest_framework.test import APIClient

from sofacover.cache import cache_config
from tickets.models import Ticket


@pytest.fixture
def dead_redis_url() -> str:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


class TestResilientRedisCache:
    def test_reads_miss_writes_drop_and_counters_start_afresh(self, settings, dead_redis_url):
        settings.CACHES = {"default": cache_config(dead_redis_url)}
        cache = caches["default"]
        assert cache.add("k", 1, 60) is True
        assert cache.get("k", "missing") == "missing"
        cache.set("k", 2)
        with pytest.raises(ValueError, match="not found"):
            cache.incr("k")
        assert cache.get_many(["a", "b"]) == {}

    @pytest.mark.django_db
    def test_rate_limited_ticket_creation_still_works(self, settings, dead_redis_url, customer):
        # Regression: django-ratelimit's cache.add raised redis ConnectionError → 500.
        settings.CACHES = {"default": cache_config(dead_redis_url)}
        client = APIClient()
        client.force_authenticate(customer)
        response = client.post("/api/v1/tickets/", {"subject": "Zip", "description": "Broke."}, format="json")
        assert response.status_code == 201
        assert Ticket.objects.count() == 1

    @pytest.mark.django_db
    def test_portal_login_form_still_answers(self, settings, dead_redis_url, customer, password):
        settings.CACHES = {"default": cache_config(dead_redis_url)}
        response = Client().post("/login/", {"username": customer.username, "password": password})
        assert response.status_code == 302
