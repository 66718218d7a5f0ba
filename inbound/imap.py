"""The IMAP poller: reads new mail from a hosted mailbox and hands each message to ``receive``.

One run (``manage.py fetch_mail``, or the beat every MAIL_IMAP_POLL_SECONDS) logs in, takes
up to MAIL_IMAP_BATCH unseen messages, and for each:

- stored, or already stored (the unique Message-ID makes a second poller harmless): marked seen;
- refused (malformed, too large, an unknown sender when those are refused): marked seen and
  flagged for a person to look at, and logged; it stays in the mailbox;
- the desk failed: left unseen, so the next run tries it again.

A message past MAIL_MAX_BYTES is refused by its size, without being downloaded.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from .parsing import MailRejected, MailTooLarge
from .services import Receipt

logger = logging.getLogger(__name__)
SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class MailboxError(Exception):
    """The mailbox could not be read (connection, login, selection)."""


@dataclass
class PollResult:
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (
            f"fetched {self.fetched}, stored {self.stored}, duplicates {self.duplicates}, "
            f"refused {self.refused}, failed {self.failed}"
        )


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    user: str
    password: str
    name: str = "INBOX"
    use_ssl: bool = True
    timeout: float = 30.0


def _connect(box: Mailbox) -> imaplib.IMAP4:
    try:
        if box.use_ssl:
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                box.host, box.port, ssl_context=ssl.create_default_context(), timeout=box.timeout
            )
        else:
            conn = imaplib.IMAP4(box.host, box.port, timeout=box.timeout)
        conn.login(box.user, box.password)
        status, _ = conn.select(_quoted(box.name))
        if status != "OK":
            raise MailboxError(f"cannot select mailbox {box.name!r}")
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"IMAP {box.host}:{box.port}: {type(exc).__name__}: {exc}") from exc
    return conn


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _flag(conn: imaplib.IMAP4, uid: bytes, flags: str) -> None:
    conn.uid("STORE", uid.decode(), "+FLAGS.SILENT", flags)


def poll(box: Mailbox, *, receive: Callable[[bytes], Receipt], max_bytes: int, batch: int = 200) -> PollResult:
    """Read up to ``batch`` unseen messages of ``box`` into the desk.

    :raises MailboxError: the mailbox could not be reached or opened (nothing was marked)
    """
    result = PollResult()
    conn = _connect(box)
    try:
        status, data = conn.uid("SEARCH", "UNSEEN", "UNDELETED")
        if status != "OK":
            raise MailboxError("SEARCH failed")
        for uid in (data[0] or b"").split()[:batch]:
            result.fetched += 1
            _, sized = conn.uid("FETCH", uid.decode(), "(RFC822.SIZE)")
            match = SIZE.search(b" ".join(part if isinstance(part, bytes) else b"" for part in sized or []))
            try:
                if match and int(match.group(1)) > max_bytes:
                    raise MailTooLarge(int(match.group(1)))
                status, fetched = conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                raw = next((part[1] for part in fetched or [] if isinstance(part, tuple)), None)
                if status != "OK" or raw is None:
                    raise MailboxError(f"FETCH {uid!r} failed")
                receipt = receive(raw)
            except MailRejected as exc:
                logger.warning("IMAP message %s refused (%s): %s; flagged in the mailbox", uid, exc.code, exc.message)
                _flag(conn, uid, r"(\Seen \Flagged)")
                result.refused += 1
                continue
            except Exception:
                logger.exception("IMAP message %s could not be taken; it stays unseen for the next run", uid)
                result.failed += 1
                continue
            _flag(conn, uid, r"(\Seen)")
            if receipt.duplicate:
                result.duplicates += 1
            else:
                result.stored += 1
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            logger.debug("IMAP logout failed", exc_info=True)
    return result
