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

# kwargs: ticket_ids, now. Many tickets changed in one go (the SLA sweep's batch: tier
# moves, deadlines, breaches), sent inside the transaction after the writes. The
# ticket_changed signals of the same batch carry batched=True: a receiver that only
# needs to know that a ticket changed can wait for this one and handle them together.
tickets_changed = Signal()
