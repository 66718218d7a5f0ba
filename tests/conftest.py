"""Role fixtures shared by every test module."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.tickets.factories import PASSWORD, make_user


@pytest.fixture(autouse=True)
def _clean_cache():
    """Rate-limit counters live in the cache; each test starts from zero. So does the copy of the
    status page's snapshot each process keeps beside the cache."""
    from incidents import status

    cache.clear()
    status.snapshot_local_forget()
    yield
    cache.clear()
    status.snapshot_local_forget()


@pytest.fixture(autouse=True)
def _fresh_policy_caches():
    """The policy book and the message templates are cached per process; each test reads its own."""
    from escalation import selectors
    from notifications import messages

    selectors.policy_book_forget()
    messages.templates_forget()
    yield
    selectors.policy_book_forget()
    messages.templates_forget()


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def redis_url(settings) -> str:
    """This test's Redis (REDIS_URL): in a parallel run (pytest -n) each worker's own database, base + worker
    index (sofacover/settings_test.py). Hand it to the servers and processes a test starts; skip without it."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL")
    return settings.REDIS_URL


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def customer(db):
    return make_user("alice@example.com", "customer", first_name="Alice")


@pytest.fixture
def other_customer(db):
    return make_user("bob@example.com", "customer", first_name="Bob")


@pytest.fixture
def agent(db):
    return make_user("tier1@sofacoverpro.com", "agent", tier=1, first_name="Tina")


@pytest.fixture
def tier2_agent(db):
    return make_user("tier2@sofacoverpro.com", "agent", tier=2)


@pytest.fixture
def manager(db):
    return make_user("manager@sofacoverpro.com", "manager")


@pytest.fixture
def admin_user(db):
    return make_user("admin@sofacoverpro.com", "admin")


@pytest.fixture
def customer_client(client, customer):
    """The Django test client, signed in as ``customer``."""
    client.force_login(customer)
    return client


def _api_client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api_client_for():
    return _api_client_for


def pytest_collection_modifyitems(items):
    """A transactional test flushes every table afterwards, including the roles, policies and
    templates our migrations seed; without serialized_rollback the tests after it lose them."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(
                f"{item.nodeid}: use @pytest.mark.django_db(transaction=True, serialized_rollback=True)"
            )
