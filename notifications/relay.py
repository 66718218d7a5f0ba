"""The outbox relay: claim due rows, send them, record what happened.

- Claim: due rows (pending, or held whose hold has ended) are taken with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` where the database has it, and always
  through a conditional ``UPDATE ... WHERE status IN (pending, held)`` that
  stamps a random claim token; only rows carrying our token are ours. Two
  relays flushing at once therefore never send the same row twice.
- A row stuck in ``sending`` past its lease (a worker died after claiming it)
  goes back to pending; the resend reuses the stored Message-ID.
- Success: sent. Transient failure: pending again after exponential backoff
  with jitter (capped), or after the server's Retry-After. Permanent failure
  or too many attempts: dead letter, and one system alert per hour however
  many die. No destination or credentials: skipped.
- Slack: rows for one channel are posted as digests (one message listing up
  to NOTIFY_SLACK_DIGEST_MAX alerts) at most once per
  NOTIFY_SLACK_MIN_INTERVAL_SECONDS per channel, across all workers (a
  ``SendSlot`` row per channel). SMS and calls are coalesced per phone number
  and capped to one per NOTIFY_PAGE_MIN_INTERVAL_SECONDS per person.

``now`` is an input; time spent sending inside one flush is added to it.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from . import delivery, services
from .models import Notification, SendSlot

logger = logging.getLogger(__name__)
Status = Notification.Status
Channel = Notification.Channel
DUE_STATUSES = (Status.PENDING, Status.HELD)
sleep: Callable[[float], None] = time.sleep  # a seam for tests


@dataclass
class FlushResult:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    skipped: int = 0
    deferred: int = 0
    released: int = 0
    posts: int = 0

    def __str__(self) -> str:
        return (
            f"claimed {self.claimed}, sent {self.sent}, retrying {self.retrying}, dead {self.dead}, "
            f"skipped {self.skipped}, deferred {self.deferred}, released {self.released}, requests {self.posts}"
        )


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: base * 2^(n-1), capped, then somewhere in its upper half."""
    base = settings.NOTIFY_RETRY_BASE_SECONDS
    delay = min(settings.NOTIFY_RETRY_MAX_SECONDS, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay / 2 + random.uniform(0, delay / 2))


# --- claiming -------------------------------------------------------------------------------------


def outbox_release_expired(*, now: datetime) -> int:
    """Rows whose sender died mid-send go back to pending (at most one resend, same Message-ID)."""
    return Notification.objects.filter(status=Status.SENDING, lease_until__lt=now).update(
        status=Status.PENDING, claim="", lease_until=None, next_attempt_at=now
    )


def _due(now: datetime) -> Q:
    return Q(status__in=DUE_STATUSES, next_attempt_at__lte=now)


def claim_candidates(*, now: datetime, limit: int) -> list[int]:
    """Ids of due rows, oldest first, skipping rows another relay holds locked (where the database can)."""
    candidates = Notification.objects.filter(_due(now)).order_by("next_attempt_at", "id")
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True)
    return list(candidates.values_list("pk", flat=True)[:limit])


def claim_take(ids: list[int], *, now: datetime, token: str) -> list[Notification]:
    """The conditional UPDATE: only rows still due become ours; a row another relay took meanwhile does not."""
    lease_until = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    Notification.objects.filter(_due(now), pk__in=ids).update(
        status=Status.SENDING, claim=token, lease_until=lease_until, attempts=F("attempts") + 1
    )
    return list(
        Notification.objects.filter(pk__in=ids, claim=token, status=Status.SENDING)
        .select_related("ticket", "webhook")
        .order_by("next_attempt_at", "id")
    )


def outbox_claim(*, now: datetime, limit: int) -> tuple[str, list[Notification]]:
    token = secrets.token_hex(16)
    with transaction.atomic():
        ids = claim_candidates(now=now, limit=limit)
        rows = claim_take(ids, now=now, token=token) if ids else []
    return token, rows


# --- recording outcomes -------------------------------------------------------------------------------


class Run:
    """One flush: the claim token, the clock, the tally, and the writes that close a row."""

    def __init__(self, *, now: datetime, token: str, result: FlushResult) -> None:
        self.started_at, self._t0 = now, time.monotonic()
        self.token, self.result = token, result
        self.dead_ids: list[int] = []

    def now(self) -> datetime:
        return self.started_at + timedelta(seconds=time.monotonic() - self._t0)

    def _ours(self, rows: Iterable[Notification]):
        return Notification.objects.filter(pk__in=[row.pk for row in rows], claim=self.token, status=Status.SENDING)

    def sent(self, rows: Sequence[Notification], provider_id: str) -> None:
        self.result.sent += self._ours(rows).update(
            status=Status.SENT, sent_at=self.now(), provider_id=provider_id[:200], last_error="", lease_until=None
        )

    def skipped(self, rows: Sequence[Notification], reason: str) -> None:
        self.result.skipped += self._ours(rows).update(
            status=Status.SKIPPED, last_error=delivery.redact(f"skipped: {reason}"), lease_until=None
        )

    def deferred(self, rows: Sequence[Notification], until: datetime) -> None:
        """Not attempted (rate limit): back to pending without spending an attempt."""
        self.result.deferred += self._ours(rows).update(
            status=Status.PENDING, next_attempt_at=until, lease_until=None, attempts=F("attempts") - 1
        )

    def failed(self, rows: Sequence[Notification], error: delivery.SendFailed) -> None:
        now, message = self.now(), str(error)[:500]
        for row in rows:
            ours = self._ours([row])
            if error.permanent or row.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                if ours.update(status=Status.DEAD, last_error=message, lease_until=None):
                    self.result.dead += 1
                    if row.kind != Notification.Kind.SYSTEM:
                        self.dead_ids.append(row.pk)
                continue
            if error.retry_after is not None:
                wait = timedelta(seconds=error.retry_after + random.uniform(0, 1))
            else:
                wait = backoff(row.attempts)
            self.result.retrying += ours.update(
                status=Status.PENDING, next_attempt_at=now + wait, last_error=message, lease_until=None
            )


# --- rate slots ----------------------------------------------------------------------------------------


def take_slot(key: str, *, now: datetime, interval: float) -> datetime | None:
    """Reserve the destination's next send: None when reserved, else when it frees up."""
    next_at = now + timedelta(seconds=interval)
    try:
        with transaction.atomic():
            _, created = SendSlot.objects.get_or_create(key=key, defaults={"next_at": next_at})
    except IntegrityError:
        created = False
    if created:
        return None
    if SendSlot.objects.filter(key=key, next_at__lte=now).update(next_at=next_at):
        return None
    return SendSlot.objects.filter(key=key).values_list("next_at", flat=True).first() or now


# --- per channel ----------------------------------------------------------------------------------------


def _send_email(run: Run, rows: list[Notification]) -> None:
    try:
        with delivery.Mailer() as mailer:
            for index, row in enumerate(rows):
                try:
                    run.result.posts += 1
                    run.sent([row], mailer.send(row))
                except delivery.NotConfigured as exc:
                    run.skipped([row], str(exc))
                except delivery.SendFailed as exc:
                    run.failed([row], exc)
                    if exc.connection_lost:  # the rest of the batch waits for the next try
                        run.failed(rows[index + 1 :], exc)
                        return
    except delivery.SendFailed as exc:  # could not even connect: every row waits for the next try
        run.failed(rows, exc)


def _send_slack(run: Run, channel_name: str, rows: list[Notification]) -> None:
    try:
        channel = delivery.slack_channel(channel_name)
    except delivery.NotConfigured as exc:
        run.skipped(rows, str(exc))
        return
    size = max(1, settings.NOTIFY_SLACK_DIGEST_MAX)
    interval = settings.NOTIFY_SLACK_MIN_INTERVAL_SECONDS
    chunks = [rows[i : i + size] for i in range(0, len(rows), size)]
    for index, chunk in enumerate(chunks):
        busy_until = take_slot(f"slack:{channel.name}", now=run.now(), interval=interval)
        if busy_until is not None:
            wait = (busy_until - run.now()).total_seconds()
            if wait > settings.NOTIFY_SLACK_MAX_WAIT_SECONDS:
                for rest in chunks[index:]:
                    run.deferred(rest, busy_until)
                return
            sleep(max(0.0, wait))
            if take_slot(f"slack:{channel.name}", now=run.now(), interval=interval) is not None:
                for rest in chunks[index:]:
                    run.deferred(rest, busy_until + timedelta(seconds=interval))
                return
        try:
            run.result.posts += 1
            run.sent(chunk, delivery.post_slack(channel, delivery.slack_digest(chunk)))
        except delivery.SendFailed as exc:
            run.failed(chunk, exc)
            if exc.retry_after is not None or not exc.permanent:
                for rest in chunks[index + 1 :]:  # the channel is struggling: leave the rest for later
                    run.failed(rest, exc)
                return


def _send_page(run: Run, channel: str, number: str, rows: list[Notification]) -> None:
    """SMS or call: all pending alerts for one person in one message, at most once per interval."""
    if not number:
        run.skipped(rows, "no phone number on file")
        return
    if not delivery.twilio_configured():
        run.skipped(rows, "Twilio is not configured")
        return
    busy_until = take_slot(f"{channel}:{number}", now=run.now(), interval=settings.NOTIFY_PAGE_MIN_INTERVAL_SECONDS)
    if busy_until is not None:
        run.deferred(rows, busy_until)
        return
    if len(rows) == 1:
        text = rows[0].body
    else:
        text = f"{len(rows)} SofaCover alerts: " + "; ".join(row.body[:120] for row in rows)
    try:
        run.result.posts += 1
        if channel == Channel.SMS:
            provider_id = delivery.send_sms(number, text)
        else:
            provider_id = delivery.place_call(number, f"SofaCover Pro support alert. {text}")
        run.sent(rows, provider_id)
    except delivery.NotConfigured as exc:
        run.skipped(rows, str(exc))
    except delivery.SendFailed as exc:
        run.failed(rows, exc)


def _send_webhook(run: Run, row: Notification) -> None:
    try:
        run.result.posts += 1
        run.sent([row], delivery.send_webhook(row.webhook, row.payload))
    except delivery.NotConfigured as exc:
        run.skipped([row], str(exc))
    except delivery.SendFailed as exc:
        run.failed([row], exc)


def _deliver(run: Run, rows: list[Notification]) -> None:
    emails, dashboards, webhooks = [], [], []
    slack: dict[str, list[Notification]] = defaultdict(list)
    pages: dict[tuple[str, str], list[Notification]] = defaultdict(list)
    for row in rows:
        if row.channel == Channel.EMAIL:
            emails.append(row)
        elif row.channel == Channel.DASHBOARD:
            dashboards.append(row)
        elif row.channel == Channel.SLACK:
            slack[row.recipient].append(row)
        elif row.channel in (Channel.SMS, Channel.PHONE):
            pages[(row.channel, row.recipient)].append(row)
        else:
            webhooks.append(row)
    if dashboards:  # released from quiet hours: delivery is being visible
        run.sent(dashboards, "dashboard")
    if emails:
        _send_email(run, emails)
    for name, channel_rows in slack.items():
        _send_slack(run, name, channel_rows)
    for (channel, number), page_rows in pages.items():
        _send_page(run, channel, number, page_rows)
    for row in webhooks:
        _send_webhook(run, row)


def _alert_dead_letters(ids: list[int], *, now: datetime) -> None:
    """One system alert per hour, however many rows died (the admin lists them all)."""
    if not ids:
        return
    hour = now.replace(minute=0, second=0, microsecond=0)
    services.system_alert(
        subject="Notifications failed permanently (dead letters)",
        body=f"{len(ids)} notification(s) could not be delivered and need attention: "
        "see Notifications, status “Failed (dead letter)”, in the admin, where they can be retried.",
        key=f"system:dead-letters:{hour.isoformat()}",
        now=now,
    )


def outbox_flush(*, now: datetime, limit: int | None = None, budget_seconds: float | None = None) -> FlushResult:
    """Deliver everything due at ``now``, batch by batch, within a time budget."""
    limit = limit or settings.NOTIFY_RELAY_BATCH
    budget = settings.NOTIFY_RELAY_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    started = time.monotonic()
    result = FlushResult(released=outbox_release_expired(now=now))
    while True:
        clock = now + timedelta(seconds=time.monotonic() - started)
        token, rows = outbox_claim(now=clock, limit=limit)
        if not rows:
            break
        result.claimed += len(rows)
        run = Run(now=clock, token=token, result=result)
        _deliver(run, rows)
        _alert_dead_letters(run.dead_ids, now=run.now())
        if len(rows) < limit or time.monotonic() - started > budget:
            break
    if result.claimed:
        logger.info("Outbox flush: %s", result)
    return result


def outbox_retry(*, ids: Iterable[int], now: datetime) -> int:
    """Dead letters (or skipped rows) go back to pending with a fresh attempt count: the admin's "retry"."""
    count = Notification.objects.filter(pk__in=list(ids), status__in=[Status.DEAD, Status.SKIPPED]).update(
        status=Status.PENDING, attempts=0, next_attempt_at=now, last_error="", claim="", lease_until=None
    )
    if count:
        services._kick_after_commit()
    return count
