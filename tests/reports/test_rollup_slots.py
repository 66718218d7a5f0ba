"""The rollup's slots: changes to the same figures at once take different row locks, and the nightly
fold leaves one row per key for the days past without moving a figure."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.conf import settings
from django.db import OperationalError, connection, connections, transaction

from reports import metrics, rollup, tasks
from reports.filters import ReportFilters
from reports.models import DailyRollup, DurationHistogram
from support import usecases
from tickets.models import Ticket

from .test_rollup import assert_rollup_equals_live
from .world import NOW, T0, D, M, open_ticket, reply, resolve, rollup_tables

pytestmark = pytest.mark.django_db

FORTNIGHT = ReportFilters(start=date(2026, 3, 2), end=date(2026, 3, 15))
RESPONSE = DurationHistogram.Clock.RESPONSE


def answered_alike(customer, agent, n: int, *, at: datetime = T0) -> list[Ticket]:
    """n P1 tickets filed in the same minute and answered 5 minutes later: one key of every table."""
    tickets = [open_ticket(customer, at) for _ in range(n)]
    for ticket in tickets:
        reply(ticket, agent, at + 5 * M)
    return tickets


class TestSlots:
    def test_each_ticket_moves_the_row_its_id_picks_and_the_figures_sum_them(self, customer, agent):
        tickets = answered_alike(customer, agent, rollup.SLOTS + 2)
        per_slot = Counter(t.pk % rollup.SLOTS for t in tickets)
        assert dict(DurationHistogram.objects.filter(clock=RESPONSE).values_list("slot", "n")) == per_slot
        assert DailyRollup.objects.values("slot").distinct().count() == rollup.SLOTS
        (p1,) = (row for row in metrics.sla_by_priority(FORTNIGHT, now=NOW) if row.priority == "P1")
        assert (p1.tickets, p1.response_met) == (rollup.SLOTS + 2, rollup.SLOTS + 2)
        assert_rollup_equals_live(FORTNIGHT, now=NOW)

    def test_the_rebuild_writes_one_row_per_key_with_the_same_sums(self, customer, agent):
        answered_alike(customer, agent, rollup.SLOTS + 2)
        maintained = rollup_tables()
        rollup.rollup_rebuild()
        assert rollup_tables() == maintained
        assert set(DailyRollup.objects.values_list("slot", flat=True)) == {0}
        assert list(DurationHistogram.objects.filter(clock=RESPONSE).values_list("slot", "n")) == [
            (0, rollup.SLOTS + 2)
        ]


class TestFold:
    def test_the_days_before_go_to_one_row_per_key_and_no_figure_moves(self, customer, agent):
        first = answered_alike(customer, agent, rollup.SLOTS + 1)
        second = answered_alike(customer, agent, rollup.SLOTS + 1, at=T0 + D)
        for ticket in first:
            resolve(ticket, agent, T0 + D + 2 * M)  # resolved on the second day: moves its rows too
        usecases.change(ticket=first[0], actor=agent, now=T0 + D + 3 * M, priority="P3")  # leaves zero rows
        maintained = rollup_tables()
        slots_of_second_day = sorted(DailyRollup.objects.filter(day=(T0 + D).date()).values_list("slot", flat=True))

        assert rollup.rollup_fold(before=(T0 + D).date()) > 0

        assert rollup_tables() == maintained
        assert_rollup_equals_live(FORTNIGHT, now=NOW)
        first_day = DailyRollup.objects.filter(day=T0.date())
        assert set(first_day.values_list("slot", flat=True)) == {0}
        assert first_day.count() == len({(r.priority, r.assignee_id) for r in first_day})  # one row per key
        assert not first_day.filter(created=0, resolved=0).exists()  # the zero rows are gone
        assert set(DurationHistogram.objects.filter(day=T0.date()).values_list("slot", flat=True)) == {0}
        # The day not before ``before`` keeps its slots.
        assert sorted(DailyRollup.objects.filter(day=(T0 + D).date()).values_list("slot", flat=True)) == (
            slots_of_second_day
        )
        assert len(second) == rollup.SLOTS + 1

    def test_a_second_fold_finds_nothing(self, customer, agent):
        answered_alike(customer, agent, rollup.SLOTS + 1)
        assert rollup.rollup_fold(before=(T0 + D).date()) > 0
        assert rollup.rollup_fold(before=(T0 + D).date()) == 0

    def test_the_nightly_beat_folds_the_days_before_today_in_desk_time(self, customer, agent):
        answered_alike(customer, agent, rollup.SLOTS + 1)
        answered_alike(customer, agent, rollup.SLOTS + 1, at=T0 + D)
        assert settings.CELERY_BEAT_SCHEDULE["rollup-fold"]["task"] == "reports.tasks.rollup_fold"
        # 00:30 of the third of March in London (GMT): the second is yesterday, the first before it.
        with time_machine.travel(datetime(2026, 3, 4, 0, 30, tzinfo=UTC), tick=False):
            tasks.rollup_fold()
        assert set(DailyRollup.objects.filter(day=T0.date()).values_list("slot", flat=True)) == {0}
        assert set(DailyRollup.objects.filter(day=(T0 + D).date()).values_list("slot", flat=True)) == {0}


# --- two changes at once (PostgreSQL: row locks between real transactions) -----------------------

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@contextmanager
def held_open(work: Callable[[], object], release: threading.Event | None = None) -> Iterator[None]:
    """Run ``work`` in a transaction of another thread (and connection), kept open until the block ends
    or ``release`` is set; what the thread raised fails the test."""
    release = release or threading.Event()
    holding = threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                work()
                holding.set()
                release.wait(20)
        except BaseException as exc:
            errors.append(exc)
        finally:
            holding.set()
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(20)
    try:
        yield
    finally:
        release.set()
        thread.join(30)
    assert not errors, errors


@pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: two transactions holding row locks at once")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestTwoFirstResponsesAtOnce:
    """While one agent's first response is not yet committed, another agent answers a ticket of the
    same day, priority and minute. With a lock timeout of a second, the second reply fails if it has to
    wait for the first one's rows."""

    def answer_while_another_is_open(self, held: Ticket, answered: Ticket, agent) -> None:
        with held_open(lambda: reply(held, agent, T0 + 5 * M)), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            reply(answered, agent, T0 + 5 * M)

    def pair(self, customer, *, same_slot: bool) -> tuple[Ticket, Ticket]:
        """The first of SLOTS + 1 tickets and another of its slot (there is one, by pigeonhole) or not."""
        first, *others = (open_ticket(customer, T0) for _ in range(rollup.SLOTS + 1))
        (other, *_) = (t for t in others if (t.pk % rollup.SLOTS == first.pk % rollup.SLOTS) == same_slot)
        return first, other

    def test_tickets_of_different_slots_do_not_wait_for_each_other(self, customer, agent):
        self.answer_while_another_is_open(*self.pair(customer, same_slot=False), agent)
        assert sum(DurationHistogram.objects.filter(clock=RESPONSE).values_list("n", flat=True)) == 2

    def test_tickets_of_the_same_slot_do_wait(self, customer, agent):
        """The counter-case: one row per key is what made the desk's chat lines queue."""
        with pytest.raises(OperationalError, match="lock timeout"):
            self.answer_while_another_is_open(*self.pair(customer, same_slot=True), agent)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: the fold's table locks against an open change")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestTheFoldBesideAnOpenChange:
    """The fold never waits holding a lock: while a change holds the tables it tries again, so the
    change is never the one PostgreSQL fails to break a deadlock."""

    def test_it_tries_again_until_the_change_commits(self, customer, agent, monkeypatch):
        answered_alike(customer, agent, rollup.SLOTS + 1)
        late = open_ticket(customer, T0 + D)
        tries = []
        fold = rollup._fold
        release = threading.Event()

        def counted(before):
            tries.append(before)
            if len(tries) == 3:
                release.set()  # the change commits while the fold waits to try again
            return fold(before)

        monkeypatch.setattr(rollup, "_fold", counted)
        monkeypatch.setattr(rollup, "FOLD_RETRY_SECONDS", 0.05)
        with held_open(lambda: reply(late, agent, T0 + D + 5 * M), release):  # a first response: both tables
            assert rollup.rollup_fold(before=(T0 + D).date()) > 0
        assert len(tries) >= 3
        assert set(DailyRollup.objects.filter(day=T0.date()).values_list("slot", flat=True)) == {0}
        assert_rollup_equals_live(FORTNIGHT, now=NOW)

    def test_it_gives_up_after_its_attempts_and_the_change_goes_through(self, customer, agent, monkeypatch):
        answered_alike(customer, agent, rollup.SLOTS + 1)
        late = open_ticket(customer, T0 + D)
        monkeypatch.setattr(rollup, "FOLD_ATTEMPTS", 2)
        monkeypatch.setattr(rollup, "FOLD_RETRY_SECONDS", 0.01)
        with held_open(lambda: reply(late, agent, T0 + D + 5 * M)), pytest.raises(OperationalError):
            rollup.rollup_fold(before=(T0 + D).date())
        assert Ticket.objects.get(pk=late.pk).first_responded_at is not None
