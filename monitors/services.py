"""Every change to a monitor: its configuration, the claim on a due check, the result and its rules.

The rules, applied to each result in ``result_record`` (the use case
``support.usecases.monitor_checked`` calls it and tells the incident):

- N consecutive failed checks (``failures_to_open``, default 2: within 60 s at 30 s)
  move the monitor down; M consecutive passed checks (``recoveries_to_close``,
  default 2) move it back up. A first passed check moves an unknown monitor up.
- The incident is told what the state says: down -> "failing" (open or update it),
  up after failing -> "recovered" (move it to monitoring). ``Verdict.tell`` says which,
  once per change.
- Flapping: a monitor whose state changed (up <-> down) more than ``flap_threshold``
  times within the last hour is flapping. While it flaps, the incident is told at
  most once per ``flap_hold_minutes``: a change inside the hold waits, and is told
  when the hold has passed if the state still says so (each later check looks
  again); a state that flipped back meanwhile is never told at all.

Claims (as the notification relay's): due monitors are taken with ``SELECT ... FOR
UPDATE SKIP LOCKED`` where the database has it and always through a conditional
``UPDATE`` that stamps a claim token and a lease; only rows carrying our token are
ours, so two runners never run the same check. A runner that dies leaves its lease
to expire; the next runner takes the check again (same slot, recorded once).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils.translation import gettext

from notifications.urlsafety import validate_destination
from sofacover.errors import DomainError
from tickets.models import Ticket

from . import checks
from .models import CheckResult, ErrorCount, Monitor, new_token

Kind = Monitor.Kind
State = Monitor.State
Told = Monitor.Told
FLAP_WINDOW = timedelta(hours=1)
MAX_URLS = 20
MAX_FEED_COUNT = 1_000_000_000

# Per kind: severity and interval when the manager gives none (the procedures' cadence and classes).
DEFAULTS: dict[str, dict[str, Any]] = {
    Kind.HTTP: {"severity": Ticket.Priority.P0, "interval_seconds": 30},
    Kind.PERFORMANCE: {"severity": Ticket.Priority.P1, "interval_seconds": 60},
    Kind.BUSINESS: {"severity": Ticket.Priority.P1, "interval_seconds": 300, "incident_public": False},
    Kind.ERROR_RATE: {"severity": Ticket.Priority.P1, "interval_seconds": 60},
}


# --- configuration -----------------------------------------------------------------------------------


def defaults_for(kind: str) -> dict[str, Any]:
    return dict(DEFAULTS.get(kind, {}))


def _url_error(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "Enter a URL."
    if len(value) > 500:
        return "At most 500 characters."
    try:
        validate_destination(value)
    except ValidationError as exc:
        return " ".join(exc.messages)
    if not value.lower().startswith(("http://", "https://")):
        return "Enter an http:// or https:// URL."
    return None


def monitor_validate(monitor: Monitor) -> None:
    """The rules across fields, by kind (a field's own limits are its validators').

    :raises DomainError: naming the field at fault
    """
    kind = monitor.kind
    if kind not in Kind.values:
        raise DomainError(gettext("Choose http, performance, business or error_rate."), field="kind")
    if kind in (Kind.HTTP, Kind.BUSINESS) and (error := _url_error(monitor.url)):
        raise DomainError(error, field="url")
    if kind == Kind.PERFORMANCE:
        urls = monitor.urls
        if not isinstance(urls, list) or not urls:
            raise DomainError(gettext("List the URLs to probe."), field="urls")
        if len(urls) > MAX_URLS:
            raise DomainError(gettext("At most %(count)s URLs.") % {"count": MAX_URLS}, field="urls")
        for n, url in enumerate(urls):
            if error := _url_error(url):
                raise DomainError(
                    gettext("URL %(number)s: %(error)s") % {"number": n + 1, "error": error}, field="urls"
                )
        if monitor.p50_threshold_ms > monitor.p95_threshold_ms:
            raise DomainError(gettext("The p50 threshold cannot be above the p95 one."), field="p50_threshold_ms")
    if kind == Kind.BUSINESS and not (monitor.orders_field or monitor.conversion_field):
        raise DomainError(gettext("Name the order volume field, the conversion field, or both."), field="orders_field")
    if monitor.method == Monitor.Method.HEAD and (monitor.body_contains or monitor.json_path):
        raise DomainError(gettext("A HEAD request has no body to look into: use GET."), field="method")
    if monitor.json_expected and not monitor.json_path:
        raise DomainError(gettext("Give the JSON path whose value is expected."), field="json_path")
    if kind != Kind.ERROR_RATE and monitor.timeout_seconds >= monitor.interval_seconds:
        raise DomainError(
            gettext("The check could take longer than its interval: shorten the timeout."), field="timeout_seconds"
        )


def monitor_create(*, now: datetime, **fields: Any) -> Monitor:
    """A new monitor, due at once. Severity and interval default by kind.

    :raises DomainError: the configuration does not hold together
    """
    for name, value in defaults_for(fields.get("kind", "")).items():
        if fields.get(name) is None:
            fields[name] = value
    return monitor_save(monitor=Monitor(**fields), now=now)


@transaction.atomic
def monitor_update(*, monitor: Monitor, now: datetime, **changes: Any) -> Monitor:
    """A manager's edit: only the fields given change; what the monitor has seen is kept.

    :raises DomainError: the configuration does not hold together, or the kind would change
    """
    monitor = Monitor.objects.select_for_update().get(pk=monitor.pk)
    was_enabled = monitor.enabled
    if "kind" in changes and changes["kind"] != monitor.kind:
        raise DomainError(gettext("A monitor's kind cannot change: make a new monitor."), field="kind")
    for name, value in changes.items():
        setattr(monitor, name, value)
    return monitor_save(monitor=monitor, now=now, was_enabled=was_enabled)


def monitor_save(*, monitor: Monitor, now: datetime, was_enabled: bool | None = None) -> Monitor:
    """Save a new or edited monitor (the API's and the console's forms end here): a severity or
    interval left empty takes its kind's default; a new monitor, or one enabled again, is due at once.

    :raises DomainError: the configuration does not hold together
    """
    for name, value in defaults_for(monitor.kind).items():
        if name in ("severity", "interval_seconds") and getattr(monitor, name) in (None, ""):
            setattr(monitor, name, value)
    monitor_validate(monitor)
    if monitor.pk is None:
        monitor.created_at = now
        monitor.next_run_at = now
    elif monitor.enabled and was_enabled is False:
        monitor.next_run_at = now
    monitor.updated_at = now
    monitor.save()
    return monitor


def monitors_due_now(*, ids: list[int], now: datetime) -> int:
    """The console's "check now": the next slot is now (a check running keeps its claim)."""
    return Monitor.objects.filter(pk__in=ids, enabled=True).update(next_run_at=now)


def monitor_token_rotate(*, monitor: Monitor, now: datetime) -> Monitor:
    monitor.token = new_token()
    monitor.updated_at = now
    monitor.save(update_fields=["token", "updated_at"])
    return monitor


# --- claiming ------------------------------------------------------------------------------------


def _due(now: datetime) -> Q:
    return Q(enabled=True, next_run_at__lte=now) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))


def monitors_claim(*, now: datetime, limit: int, token: str) -> list[Monitor]:
    """Take up to ``limit`` due monitors, oldest slot first; each carries the slot it is due for
    (``next_run_at``, until its result is recorded).

    The lease covers the check's longest run plus MONITOR_LEASE_MARGIN_SECONDS; past it, the
    check is due again for whoever comes next (the runner that held it died or hung).
    """
    margin = timedelta(seconds=settings.MONITOR_LEASE_MARGIN_SECONDS)
    with transaction.atomic():
        candidates = Monitor.objects.filter(_due(now)).order_by("next_run_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        by_lease: dict[datetime, list[int]] = {}
        for monitor in candidates.only("pk", "kind", "timeout_seconds", "urls", "samples", "interval_seconds")[:limit]:
            lease_until = now + timedelta(seconds=checks.budget_seconds(monitor)) + margin
            by_lease.setdefault(lease_until, []).append(monitor.pk)
        for lease_until, pks in by_lease.items():  # only rows still due become ours
            Monitor.objects.filter(_due(now), pk__in=pks).update(claim=token, lease_until=lease_until)
        if not by_lease:
            return []
        ids = [pk for pks in by_lease.values() for pk in pks]
        return list(
            Monitor.objects.filter(pk__in=ids, claim=token).select_related("component").order_by("next_run_at", "id")
        )


def next_slot(*, scheduled_at: datetime, interval: int, now: datetime) -> datetime:
    """The next slot after ``now`` on the monitor's own beat: late checks do not drift, missed slots are skipped."""
    step = timedelta(seconds=interval)
    following = scheduled_at + step
    if following > now:
        return following
    missed = (now - scheduled_at) // step
    return scheduled_at + step * (missed + 1)


def claim_release(*, monitor_id: int, token: str, scheduled_at: datetime, now: datetime) -> bool:
    """Give up a claimed check without a result (its recording failed): due again at its next slot."""
    monitor = Monitor.objects.filter(pk=monitor_id, claim=token).first()
    if monitor is None:
        return False
    return bool(
        Monitor.objects.filter(pk=monitor_id, claim=token).update(
            claim="",
            lease_until=None,
            next_run_at=next_slot(scheduled_at=scheduled_at, interval=monitor.interval_seconds, now=now),
        )
    )


# --- results and the rules -----------------------------------------------------------------------


@dataclass
class Verdict:
    monitor: Monitor | None
    recorded: bool
    tell: str = Told.NOTHING  # failing / recovered: the use case tells the incident
    held: bool = False  # a change the flapping hold keeps back for now
    moved: bool = False  # the state changed (up <-> down, or out of unknown)


def _flap_window(monitor: Monitor, now: datetime) -> list[str]:
    since = now - FLAP_WINDOW
    return [at for at in monitor.transitions if datetime.fromisoformat(at) > since]


def _move(monitor: Monitor, state: str, *, now: datetime) -> None:
    previous = monitor.state
    monitor.state, monitor.state_changed_at = state, now
    if previous != State.UNKNOWN:
        monitor.transitions = [*_flap_window(monitor, now), now.isoformat()]


def result_record(
    *, monitor_id: int, token: str, scheduled_at: datetime, ran_at: datetime, outcome: checks.Outcome, now: datetime
) -> Verdict:
    """Record one check and apply the rules; say what the incident must be told.

    A result whose claim is no longer ours (the lease expired and another runner took the
    check), or whose slot is already recorded, is dropped: ``Verdict.recorded`` is False.
    Runs in the caller's transaction (the use case's), the monitor's row locked.
    """
    monitor = Monitor.objects.select_for_update().filter(pk=monitor_id, claim=token).first()
    if monitor is None:
        return Verdict(monitor=None, recorded=False)
    late_ms = max(0, round((ran_at - scheduled_at).total_seconds() * 1000))
    try:
        with transaction.atomic():
            CheckResult.objects.create(
                monitor=monitor,
                scheduled_at=scheduled_at,
                late_ms=min(late_ms, 2**31 - 1),
                ok=outcome.ok,
                latency_ms=outcome.latency_ms,
                status_code=outcome.status_code,
                value_1=outcome.value_1,
                value_2=outcome.value_2,
                message=outcome.message,
            )
    except IntegrityError:  # the slot was recorded by another runner
        claim_release(monitor_id=monitor.pk, token=token, scheduled_at=scheduled_at, now=now)
        return Verdict(monitor=None, recorded=False)

    verdict = Verdict(monitor=monitor, recorded=True)
    if outcome.ok:
        monitor.consecutive_successes += 1
        monitor.consecutive_failures = 0
        monitor.failing_since = None
        if monitor.state == State.UNKNOWN or (
            monitor.state == State.DOWN and monitor.consecutive_successes >= monitor.recoveries_to_close
        ):
            _move(monitor, State.UP, now=ran_at)
            verdict.moved = True
    else:
        monitor.consecutive_failures += 1
        monitor.consecutive_successes = 0
        monitor.failing_since = monitor.failing_since or ran_at
        if monitor.state != State.DOWN and monitor.consecutive_failures >= monitor.failures_to_open:
            _move(monitor, State.DOWN, now=ran_at)
            verdict.moved = True

    monitor.transitions = _flap_window(monitor, ran_at)
    monitor.flapping = len(monitor.transitions) > monitor.flap_threshold
    wanted: str
    if monitor.state == State.DOWN:
        wanted = Told.FAILING
    else:
        wanted = Told.RECOVERED if monitor.told == Told.FAILING else monitor.told
    if wanted != monitor.told:
        hold = timedelta(minutes=monitor.flap_hold_minutes)
        if monitor.flapping and monitor.told_at is not None and ran_at - monitor.told_at < hold:
            verdict.held = True
        else:
            verdict.tell = wanted
            monitor.told, monitor.told_at = wanted, ran_at

    monitor.last_checked_at = ran_at
    monitor.last_ok = outcome.ok
    monitor.last_latency_ms = outcome.latency_ms
    monitor.last_message = outcome.message
    monitor.next_run_at = next_slot(scheduled_at=scheduled_at, interval=monitor.interval_seconds, now=now)
    monitor.claim, monitor.lease_until = "", None
    monitor.save(
        update_fields=[
            "state",
            "state_changed_at",
            "consecutive_failures",
            "consecutive_successes",
            "failing_since",
            "transitions",
            "flapping",
            "told",
            "told_at",
            "last_checked_at",
            "last_ok",
            "last_latency_ms",
            "last_message",
            "next_run_at",
            "claim",
            "lease_until",
        ]
    )
    return verdict


# --- the error-rate feed -----------------------------------------------------------------------------


def feed_authenticate(*, monitor_id: int, token: str = "", signature: str = "", body: bytes = b"") -> Monitor | None:
    """The error-rate monitor a post is for, if its credentials are right: the monitor's token as
    a bearer token, or an HMAC-SHA256 of the body keyed with it (``Sentry-Hook-Signature``)."""
    monitor = Monitor.objects.filter(pk=monitor_id, kind=Kind.ERROR_RATE).first()
    if monitor is None:
        return None
    secret = monitor.token.encode()
    if token and hmac.compare_digest(token.encode(), secret):
        return monitor
    if signature:
        expected = hmac.new(secret, body, "sha256").hexdigest()
        if hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            return monitor
    return None


def feed_counts(payload: Any) -> tuple[int, int]:
    """What a post counts: ``{"errors": n}`` and/or ``{"requests": n}`` say it; any other JSON object
    (an error tracker's event or issue webhook, as Sentry posts them) is one error event.

    :raises DomainError: a count that is not a whole number from 0 to 10^9
    """
    if not isinstance(payload, dict):
        raise DomainError(gettext("Post a JSON object."), field="non_field_errors")
    if "errors" not in payload and "requests" not in payload:
        return 1, 0
    counts = []
    for name in ("errors", "requests"):
        value = payload.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FEED_COUNT:
            raise DomainError(
                gettext("A whole number from 0 to %(count)s.") % {"count": f"{MAX_FEED_COUNT:,}"},
                field=name,
            )
        counts.append(value)
    return counts[0], counts[1]


def feed_record(*, monitor: Monitor, errors: int, requests_served: int, now: datetime) -> None:
    """Add to the minute's counts (concurrent posts add up: an UPDATE of the row, or its INSERT)."""
    if not errors and not requests_served:
        return
    minute = now.replace(second=0, microsecond=0)
    row = ErrorCount.objects.filter(monitor=monitor, minute=minute)
    if row.update(errors=F("errors") + errors, requests=F("requests") + requests_served):
        return
    try:
        with transaction.atomic():
            ErrorCount.objects.create(monitor=monitor, minute=minute, errors=errors, requests=requests_served)
    except IntegrityError:  # another post created it first
        row.update(errors=F("errors") + errors, requests=F("requests") + requests_served)
