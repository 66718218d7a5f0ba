"""Who else has a ticket open in the console: the collision warning's memory, in the cache only.

Each ticket page polls its presence URL (tickets.admin.TicketAdmin.presence_view) every few seconds
and when the agent starts or stops typing a reply; each poll marks the agent "viewing" or "replying"
for PRESENCE_SECONDS and answers with the other agents there. An agent who closes the page drops
off when the page says so (``gone``) or, at the latest, when their mark expires.

The cache (Redis in production, shared by every process; the per-process cache in development)
holds a fixed set of SLOTS entries per ticket, each one agent's mark (user id, name, state, until),
expiring by itself after PRESENCE_SECONDS. Only the cache's own atomic operations are used, so two
agents polling at the same instant never drop each other's mark (a read of the whole ticket, then a
write of it, did: the later write lost the earlier mark until its next poll):

- one ``get_many`` reads the ticket's slots;
- an agent who holds a slot rewrites only that entry (no one else writes a held slot);
- an agent without one claims an empty slot with ``add`` (set if absent: of two at once, one gets
  it and the other tries the next empty slot);
- ``gone`` deletes the agent's own entry, and nothing else.

A slot about to expire (less than MARGIN_SECONDS left) is not rewritten but left to expire, and a
fresh slot claimed, so a write never lands on a slot that has just passed to someone else. Nothing
here is stored in the database or shown to customers.
"""

from __future__ import annotations

from typing import TypedDict

from django.core.cache import cache

# An agent is shown this long after their page last said it was open (it polls every POLL_SECONDS).
PRESENCE_SECONDS = 30
POLL_SECONDS = 10
# At most this many agents are shown on one ticket at once; one more sees the others but is not shown.
SLOTS = 16
# A held slot with less than this left is not rewritten (it may expire between the read and the write).
MARGIN_SECONDS = 2
VIEWING = "viewing"
REPLYING = "replying"
GONE = "gone"
STATES = (VIEWING, REPLYING, GONE)


class Mark(TypedDict):
    user: int
    name: str
    state: str
    until: float


class Other(TypedDict):
    name: str
    state: str


def _slot_keys(ticket_id: int) -> list[str]:
    return [f"tickets:presence:{ticket_id}:{slot}" for slot in range(SLOTS)]


def presence_mark(*, ticket_id: int, user_id: int, name: str, state: str, now: float) -> list[Other]:
    """Record that ``user_id`` is viewing or replying on the ticket (or has gone); the others there, by name."""
    if state not in STATES:
        raise ValueError(f"unknown presence state {state!r}")
    keys = _slot_keys(ticket_id)
    stored: dict[str, Mark] = cache.get_many(keys)
    # Mine, longest-lived first: the one to keep writing; the others (a second tab's) run out.
    mine = sorted(
        (key for key, mark in stored.items() if mark["user"] == user_id and mark["until"] > now + MARGIN_SECONDS),
        key=lambda key: -stored[key]["until"],
    )
    if state == GONE:
        for key in mine:
            cache.delete(key)
    else:
        mark = Mark(user=user_id, name=name, state=state, until=now + PRESENCE_SECONDS)
        if mine:
            cache.set(mine[0], mark, PRESENCE_SECONDS)
        else:
            for key in keys:
                if key not in stored and cache.add(key, mark, PRESENCE_SECONDS):
                    break
    latest: dict[int, Mark] = {}  # one per agent (two tabs: the later mark)
    for mark in sorted(stored.values(), key=lambda mark: mark["until"]):
        if mark["user"] != user_id and mark["until"] > now:
            latest[mark["user"]] = mark
    others = [Other(name=mark["name"], state=mark["state"]) for mark in latest.values()]
    # Replying first: it is the one that can collide.
    return sorted(others, key=lambda other: (other["state"] != REPLYING, other["name"]))
