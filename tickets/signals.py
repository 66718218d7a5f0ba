"""Signals other apps subscribe to; tickets never imports them.

``ticket_changed`` is sent inside the transaction of the change, after the
ticket row and its timeline event are written, so a receiver's writes commit
or roll back together with the change (the SLA engine recomputes deadlines
from it).
"""

from django.dispatch import Signal

# kwargs: ticket, event (TicketEvent), now
ticket_changed = Signal()
