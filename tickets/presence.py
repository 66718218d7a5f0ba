"""Who else has a ticket open in the console: the collision warning's memory, in the cache only.

Each ticket page polls its presence URL (tickets.admin.TicketAdmin.presence_view) every few seconds
and when the agent starts or stops typing a reply; each poll marks the agent "viewing" or "replying"
for PRESENCE_SECONDS and answers with the other agents there. An agent who closes the page drops
off when the page says so (``gone``) or, at the latest, when their mark expires.

One cache entry per ticket (Redis in production, shared by every process; the per-process cache in
development): a dict of user id -> (name, state, until). Two polls at the same instant may each
write the dict without the other's mark; the next poll, seconds later, puts it back. Nothing here is
stored in the database or shown to customers.
"""

from __future__ import annotations

from typing import TypedDict

from django.core.cache import cache

# An agent is shown this long after their page last said it was open (it polls every POLL_SECONDS).
PRESENCE_SECONDS = 30
POLL_SECONDS = 10
VIEWING = "viewing"
REPLYING = "replying"
GONE = "gone"
STATES = (VIEWING, REPLYING, GONE)


class Mark(TypedDict):
    name: str
    state: str
    until: float


class Other(TypedDict):
    name: str
    state: str


def _key(ticket_id: int) -> str:
    return f"tickets:presence:{ticket_id}"


def presence_mark(*, ticket_id: int, user_id: int, name: str, state: str, now: float) -> list[Other]:
    """Record that ``user_id`` is viewing or replying on the ticket (or has gone); the others there, by name."""
    if state not in STATES:
        raise ValueError(f"unknown presence state {state!r}")
    key = _key(ticket_id)
    stored: dict[str, Mark] = cache.get(key) or {}
    marks = {uid: mark for uid, mark in stored.items() if mark["until"] > now}
    if state == GONE:
        marks.pop(str(user_id), None)
    else:
        marks[str(user_id)] = {"name": name, "state": state, "until": now + PRESENCE_SECONDS}
    if marks:
        cache.set(key, marks, PRESENCE_SECONDS)
    else:
        cache.delete(key)
    others = [Other(name=mark["name"], state=mark["state"]) for uid, mark in marks.items() if uid != str(user_id)]
    # Replying first: it is the one that can collide.
    return sorted(others, key=lambda other: (other["state"] != REPLYING, other["name"]))
