"""The SMTP listener (aiosmtpd): the desk's MX, or the host an MTA relays the desk's mail to.

The protocol runs in aiosmtpd's event loop; each message is handed to ``receive`` (the
receive_email use case) in a small thread pool, since the ORM is synchronous, and the SMTP
reply says what became of it:

- 250: stored (a ticket, a reply, a bounce recorded, a loop ignored) or already stored;
- 550/552: refused (malformed, too large, an unknown sender when those are refused); the
  sending server bounces it to its author;
- 451: the desk failed (the database is down, say); the sending server tries again later.

Every 4xx/5xx the listener answers, its own protocol refusals included (a line past 1000
characters, a message past MAIL_MAX_BYTES), is logged with the peer's address.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.db import connections

from .parsing import MailRejected
from .services import Receipt
from .workers import deliver as deliver_in_worker
from .workers import init as workers_init
from .workers import ready as workers_ready

logger = logging.getLogger(__name__)
Receive = Callable[[bytes], Receipt]
TEMPORARY_FAILURE = "451 4.3.0 The support desk could not take the message now; please try again later"


def with_return_path(mail_from: str | None, content: bytes) -> bytes:
    """Record the envelope sender as the final delivery does (RFC 5321 4.4): ``<>`` marks a bounce."""
    sender = (mail_from or "").strip().strip("<>")
    return b"Return-Path: <" + sender.encode("utf-8", "replace") + b">\r\n" + content


def release_broken_connections() -> None:
    """A long-running worker keeps its database connection from message to message (opening one
    costs more than handling a message), and replaces one that failed."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and conn.errors_occurred and not conn.is_usable():
            conn.close()


def reply_for(receive: Receive, raw: bytes, peer: Any = None) -> str:
    """Hand one message to the use case and say how it went, as an SMTP reply (in a worker thread or process)."""
    release_broken_connections()
    try:
        receipt = receive(raw)
    except MailRejected as exc:
        logger.warning("inbound mail from %s refused (%s): %s", peer, exc.code, exc.message)
        return exc.smtp_reply
    except Exception:
        logger.exception("inbound mail from %s failed; the sender is asked to retry", peer)
        return TEMPORARY_FAILURE
    finally:
        release_broken_connections()
    return f"250 2.0.0 Accepted{f' for {receipt.ticket_reference}' if receipt.ticket_reference else ''}"


class GatewayHandler:
    """Runs each message in a pool: threads of this process, or (``receive_path`` and ``processes``)
    worker processes that import the receive function by its dotted path (inbound.workers)."""

    def __init__(self, receive: Receive, *, workers: int = 4, receive_path: str = "", processes: int = 0) -> None:
        self.receive, self.receive_path = receive, receive_path
        self.pool: Executor
        if processes:
            if not receive_path:
                raise ValueError("worker processes need the receive function's dotted path")
            context = multiprocessing.get_context("spawn")
            self.pool = ProcessPoolExecutor(max_workers=processes, mp_context=context, initializer=workers_init)
        else:
            self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mailgate")
        self.processes, self.workers = processes, workers

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = with_return_path(envelope.mail_from, envelope.original_content or b"")
        loop = asyncio.get_running_loop()
        try:
            if self.processes:
                return await loop.run_in_executor(self.pool, deliver_in_worker, self.receive_path, raw, session.peer)
            return await loop.run_in_executor(self.pool, reply_for, self.receive, raw, session.peer)
        except Exception:  # a worker process died: the sender retries
            logger.exception("inbound mail from %s: the worker failed; the sender is asked to retry", session.peer)
            return TEMPORARY_FAILURE

    def start_workers(self) -> None:
        """Start every worker process now (each sets Django up), not on the first messages."""
        if self.processes:
            for future in [self.pool.submit(workers_ready) for _ in range(self.processes * 2)]:
                future.result(timeout=120)

    def close(self) -> None:
        """Stop the pool; each worker thread first closes the connections it kept (processes close
        theirs by exiting). One task per thread: each waits for the others, so no thread takes two."""
        if not self.processes:
            barrier = threading.Barrier(self.workers)

            def close_own_connections() -> None:
                connections.close_all()
                barrier.wait(timeout=30)

            for future in [self.pool.submit(close_own_connections) for _ in range(self.workers)]:
                future.result(timeout=60)
        self.pool.shutdown(wait=True)


class LoggingSMTP(SMTP):
    """aiosmtpd's server, logging every refusal it answers (its own included)."""

    async def push(self, status: Any) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else str(status)
        if text[:1] in {"4", "5"}:
            peer = self.session.peer if self.session is not None else None
            logger.warning("SMTP %s answered %s", peer, text[:200])
        await super().push(status)


class Gateway(Controller):
    """The listener on ``hostname:port``; ``start()`` runs it in a thread, ``stop()`` ends it."""

    def __init__(
        self,
        receive: Receive,
        *,
        hostname: str,
        port: int,
        max_bytes: int,
        workers: int = 4,
        receive_path: str = "",
        processes: int = 0,
    ) -> None:
        self.gateway_handler = GatewayHandler(receive, workers=workers, receive_path=receive_path, processes=processes)
        super().__init__(self.gateway_handler, hostname=hostname, port=port, data_size_limit=max_bytes)

    def start(self) -> None:
        self.gateway_handler.start_workers()
        super().start()

    def factory(self) -> SMTP:
        return LoggingSMTP(self.handler, **self.SMTP_kwargs)

    def stop(self, no_assert: bool = False) -> None:
        super().stop(no_assert=no_assert)
        self.gateway_handler.close()
