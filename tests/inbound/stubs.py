"""Receive functions for the worker-process test: importable by name in a fresh process, no database."""

from __future__ import annotations

import os

from inbound.parsing import MalformedMail
from inbound.services import Receipt


def receive_in_worker(raw: bytes) -> Receipt:
    if b"malformed" in raw:
        raise MalformedMail("stub refusal")
    return Receipt(outcome="opened", message_id="<stub@x>", ticket_reference=f"SCP-{os.getpid():06d}")
