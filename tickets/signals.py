"""Signals other apps subscribe to; tickets never imports them.

``ticket_changed`` is sent inside the transaction of the change, after the
ticket row and its timeline event are written, so a receiver's writes commit
or roll back together with the change (the SLA engine recomputes deadlines
from it).

``ticket_opening`` is sent with the new, unsaved ticket just before its row is
written; receivers may set the ticket's own fields (the SLA engine sets the
first deadlines), so a new ticket is written with them instead of updated after.
"""

from django.dispatch import Signal

# kwargs: ticket, event (TicketEvent), now
ticket_changed = Signal()

# kwargs: ticket (unsaved), now
ticket_opening = Signal()
