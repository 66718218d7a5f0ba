"""The review sweep as the beat runs it: its scheduled task, sent to real Celery workers, twice at once.

Like tests/escalation/test_workers.py (whose dedicated redis-server and worker fixtures these
reuse), this needs PostgreSQL: the workers are other processes and must see committed rows.
Each overdue action item is alerted once — one dashboard item and one email to its owner and
to the commander — however many sweeps run and however they overlap.
"""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from incidents.models import ReviewItem
from notifications.models import Notification
from support import tasks, usecases
from tests.escalation.processes import TEST_QUEUE, wait_for
from tests.escalation.test_workers import broker, redis_server, start_worker  # noqa: F401  (fixtures)
from tests.tickets.factories import make_user

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
pytestmark = [
    pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: worker processes must share the test database"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary"),
    pytest.mark.timeout(300),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
RESOLUTION = {"what_happened": "w", "resolution": "r", "prevention": "p"}


def resolved_p0(commander, *, hours_ago: float):
    resolved_at = timezone.now() - timedelta(hours=hours_ago)
    incident = usecases.declare_incident(
        declared_by=commander,
        now=resolved_at - timedelta(minutes=30),
        severity="P0",
        title="Checkout fails",
        impact="Card payments fail",
    )
    return usecases.resolve_incident(incident=incident, by=commander, now=resolved_at, **RESOLUTION)


def sweeps_finished(workers, expected: int) -> bool:
    failed = [w.name for w in workers if "raised unexpected" in w.log()]
    if failed:
        raise AssertionError("a review sweep failed:\n" + "\n".join(w.log()[-3000:] for w in workers))
    return sum(w.count("succeeded in") for w in workers) >= expected


def test_the_beat_task_on_two_workers_alerts_each_overdue_item_once(broker, start_worker):  # noqa: F811
    commander = make_user("commander@sofacoverpro.com", "agent", tier=2)
    owner = make_user("owner@sofacoverpro.com", "agent", tier=1)
    # Twenty reviews resolved three hours ago: their four immediate items each are overdue (due after 2 h).
    incidents = [resolved_p0(commander, hours_ago=3) for _ in range(20)]
    ReviewItem.objects.filter(review__incident=incidents[0], position=0).update(owner=owner)
    overdue = ReviewItem.objects.filter(phase=ReviewItem.Phase.IMMEDIATE)
    assert overdue.count() == 80
    workers = [start_worker("one"), start_worker("two")]
    task = settings.CELERY_BEAT_SCHEDULE["review-sweep"]["task"]
    for _ in range(4):  # what the beat sends (the task by its name), overlapping on four pool processes
        tasks.review_sweep.app.send_task(task, queue=TEST_QUEUE)
    wait_for(lambda: sweeps_finished(workers, 4), timeout=180, interval=0.5, what="four review sweeps")

    assert not overdue.filter(overdue_alerted_at__isnull=True).exists()
    assert (
        not ReviewItem.objects.exclude(phase=ReviewItem.Phase.IMMEDIATE)
        .filter(overdue_alerted_at__isnull=False)
        .exists()
    )
    alerts = Notification.objects.filter(kind=Notification.Kind.REVIEW_OVERDUE)
    per_item_and_person = Counter(alerts.values_list("dedupe_key", flat=True))
    assert set(per_item_and_person.values()) == {1}
    # 79 items owned by the commander: dashboard + email each; the reassigned one: the owner and the commander.
    assert alerts.count() == 79 * 2 + 2 * 2
    assert set(alerts.filter(recipient=owner.email).values_list("channel", flat=True)) == {"dashboard", "email"}
