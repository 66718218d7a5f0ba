"""A parallel test run (pytest -n): each xdist worker gets its own Redis database and var/, and the processes
a test starts keep its worker's (sofacover/settings_test.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sofacover.settings_test import redis_url_for_worker

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.REDIS_URL, s.VAR_DIR, s.CELERY_BROKER_URL, s.CACHES['default']['LOCATION'])"
)


def settings_in_child(**env: str) -> list[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTEST_XDIST_WORKER", "SOFACOVER_TEST_WORKER", "SOFACOVER_VAR_DIR", "REDIS_URL"}
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        env={**base, "DJANGO_SETTINGS_MODULE": "sofacover.settings_test", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.split()


class TestRedisDatabasePerWorker:
    def test_the_base_number_plus_the_worker_index(self):
        assert redis_url_for_worker("redis://127.0.0.1:6379/9", 0) == "redis://127.0.0.1:6379/9"
        assert redis_url_for_worker("redis://127.0.0.1:6379/9", 1) == "redis://127.0.0.1:6379/10"
        assert redis_url_for_worker("redis://:secret@cache:6380", 2) == "redis://:secret@cache:6380/2"

    def test_past_the_sixteenth_database_it_refuses(self):
        with pytest.raises(RuntimeError, match="Redis database 16"):
            redis_url_for_worker("redis://127.0.0.1:6379/15", 1)


class TestAWorkersSettings:
    def test_cache_broker_and_var_are_the_workers_own(self):
        url, var, broker, cache = settings_in_child(PYTEST_XDIST_WORKER="gw1", REDIS_URL="redis://127.0.0.1:6379/3")
        assert url == broker == cache == "redis://127.0.0.1:6379/4"
        assert var == str(ROOT / "var" / "xdist" / "gw1")

    def test_a_process_the_test_starts_keeps_them_and_does_not_add_the_index_again(self):
        url, var, _, _ = settings_in_child(
            PYTEST_XDIST_WORKER="gw1", SOFACOVER_TEST_WORKER="gw1", REDIS_URL="redis://127.0.0.1:6379/4"
        )
        assert url == "redis://127.0.0.1:6379/4"
        assert var == str(ROOT / "var")

    def test_a_serial_run_changes_nothing(self):
        url, var, _, _ = settings_in_child(REDIS_URL="redis://127.0.0.1:6379/3")
        assert (url, var) == ("redis://127.0.0.1:6379/3", str(ROOT / "var"))
