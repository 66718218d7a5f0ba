"""Handing messages to worker processes: the SMTP listener's ``--processes`` mode.

The ORM is synchronous and holds the GIL between statements, so one process tops out at one
core. With ``processes`` the listener hands each message to a pool of processes, each a full
Django set up from the environment (DJANGO_SETTINGS_MODULE), started with "spawn" (never a
fork of a process running the listener's threads). Only the message's bytes go over, and the
SMTP reply comes back; the use case runs in the worker, with its own database connection.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any


def init() -> None:
    """Each worker process, once: settings from the environment, then the apps."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sofacover.settings")
    django.setup()


def ready() -> bool:
    return True


_resolved: dict[str, Callable[[bytes], Any]] = {}


def deliver(receive_path: str, raw: bytes, peer: Any = None) -> str:
    """In a worker: hand ``raw`` to the function at ``receive_path`` ("module.name") and answer as SMTP."""
    from .smtp import reply_for

    receive = _resolved.get(receive_path)
    if receive is None:
        module, _, name = receive_path.rpartition(".")
        receive = _resolved[receive_path] = getattr(importlib.import_module(module), name)
    return reply_for(receive, raw, peer)
