"""``manage.py bench_chat``'s account of the lines not delivered in time: late, or never sent on at all."""

from __future__ import annotations

import pytest
from django.utils import timezone

from bench.management.commands import bench_chat
from support import usecases

pytestmark = pytest.mark.django_db


def test_a_line_not_delivered_in_time_is_told_apart_as_late_or_stored(customer):
    chat = usecases.chat_start(visitor=customer, body="Where is my order?", now=timezone.now())
    other = usecases.chat_start(visitor=customer, body="And my cushion?", now=timezone.now())
    usecases.chat_message(session=chat, author=customer, body="line 1 of chat 0", now=timezone.now())
    outcome = bench_chat.Outcome(
        lost=3,
        # stored on its own chat's ticket; stored, but on another chat's (not this one's); never stored
        lost_lines=[(chat.pk, "line 1 of chat 0"), (other.pk, "line 1 of chat 0"), (chat.pk, "line 3 of chat 0")],
        late_ms=[12_500.0],
    )

    assert bench_chat._lost_lines_report(outcome) == (
        "Of the 3 line(s) not delivered in time: 1 came later (after 12.5 s); 1 stored on the chat's ticket."
    )
    assert bench_chat._lost_lines_report(bench_chat.Outcome(lost=1, lost_lines=[(other.pk, "x")])) == (
        "Of the 1 line(s) not delivered in time: 0 came later; 0 stored on the chat's ticket."
    )
