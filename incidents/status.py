"""The public status page's snapshot: built once, served from the cache until an incident changes.

Every service that changes what the page shows calls ``snapshot_forget`` in its
transaction; the cached snapshot is dropped when the transaction commits, and the
next request builds it again.
"""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction

SNAPSHOT_KEY = "incidents:status:snapshot"


def snapshot_forget() -> None:
    """Drop the cached snapshot once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: cache.delete(SNAPSHOT_KEY))
