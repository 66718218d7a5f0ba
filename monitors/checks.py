"""The checks themselves: fetch, measure, judge. No database here: the runner's threads call these.

``Plan`` carries everything one check needs, read before the threads start (the
monitor's settings, the business baseline, an error-rate verdict already reached
from the counts); ``run`` turns it into an ``Outcome``. Every URL is a manager's
input and goes through the SSRF guard (notifications.urlsafety): checked before
connecting, and the peer checked again once connected. Redirects are not followed:
a redirect is an answer like any other, compared with the expected status.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from notifications import urlsafety

from .models import Monitor

Kind = Monitor.Kind
USER_AGENT = "SofaCover-Monitor/1.0"
# Enough for a health page or a metrics document; the rest of a large body is not read.
MAX_BODY_BYTES = 256 * 1024
MESSAGE_MAX = 200


@dataclass(frozen=True)
class Baseline:
    """The same hour of the same weekday over the last weeks: medians, and how many weeks had data."""

    orders: float | None
    conversion: float | None
    weeks: int


@dataclass
class Outcome:
    ok: bool
    message: str = ""
    latency_ms: int | None = None
    status_code: int | None = None
    value_1: float | None = None
    value_2: float | None = None

    def __post_init__(self) -> None:
        self.message = self.message[:MESSAGE_MAX]


@dataclass
class Plan:
    """One claimed check: the monitor (read only: the threads touch its fields, never the database)."""

    monitor: Monitor
    scheduled_at: datetime
    baseline: Baseline | None = None
    outcome: Outcome | None = None  # decided before running (error rate): nothing to fetch


@dataclass
class Fetched:
    status: int | None
    latency_ms: int
    body: bytes = b""
    error: str = ""


_local = threading.local()


def session() -> requests.Session:
    """One guarded session per thread, kept: connections to the same target are reused."""
    found = getattr(_local, "session", None)
    if found is None:
        found = _local.session = urlsafety.guarded_session()
    return found


def fetch(url: str, *, method: str = "GET", timeout: float) -> Fetched:
    """One request: status, the time to the end of the (bounded) body, or why it failed."""
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        urlsafety.check_url(url)
        with session().request(
            method,
            url,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json, text/html;q=0.9, */*;q=0.8"},
        ) as response:
            body = bytearray()
            if method != "HEAD":
                for chunk in response.iter_content(chunk_size=16 * 1024):
                    body += chunk
                    if len(body) >= MAX_BODY_BYTES:
                        break
                    if time.perf_counter() - started > timeout:
                        return Fetched(response.status_code, elapsed(), error=f"timed out after {timeout:g} s")
            return Fetched(response.status_code, elapsed(), bytes(body[:MAX_BODY_BYTES]))
    except urlsafety.BlockedDestination as exc:
        return Fetched(None, elapsed(), error=f"refused destination: {exc}")
    except requests.Timeout:
        return Fetched(None, elapsed(), error=f"timed out after {timeout:g} s")
    except requests.ConnectionError:
        return Fetched(None, elapsed(), error="could not connect")
    except requests.RequestException as exc:
        return Fetched(None, elapsed(), error=f"request failed ({type(exc).__name__})")


def json_at(document: Any, path: str) -> tuple[bool, Any]:
    """The value at a dotted path (``checks.db``, ``items.0.ok``): (found, value)."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; q in [0, 100]."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _decode_json(body: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(body)
    except (ValueError, RecursionError):
        return False, None


# --- by kind ---------------------------------------------------------------------------------------


def http_check(monitor: Monitor) -> Outcome:
    got = fetch(monitor.url, method=monitor.method, timeout=monitor.timeout_seconds)
    failed = _http_failure(monitor, got)
    return Outcome(ok=failed is None, message=failed or "", latency_ms=got.latency_ms, status_code=got.status)


def _http_failure(monitor: Monitor, got: Fetched) -> str | None:
    if got.error:
        return got.error
    if got.status != monitor.expected_status:
        return f"HTTP {got.status} (expected {monitor.expected_status})"
    if monitor.latency_threshold_ms is not None and got.latency_ms > monitor.latency_threshold_ms:
        return f"answered in {got.latency_ms} ms (limit {monitor.latency_threshold_ms} ms)"
    if monitor.body_contains and monitor.body_contains not in got.body.decode("utf-8", "replace"):
        return f"the body lacks {monitor.body_contains!r}"
    if monitor.json_path:
        parsed, document = _decode_json(got.body)
        if not parsed:
            return "the body is not JSON"
        found, value = json_at(document, monitor.json_path)
        if not found:
            return f"no {monitor.json_path} in the JSON body"
        if monitor.json_expected and as_text(value) != monitor.json_expected:
            return f"{monitor.json_path} is {as_text(value)[:60]!r} (expected {monitor.json_expected!r})"
        if not monitor.json_expected and value in (None, False, "", 0, [], {}):
            return f"{monitor.json_path} is {as_text(value)[:60]}"
    return None


def performance_check(monitor: Monitor) -> Outcome:
    latencies: list[float] = []
    deadline = time.monotonic() + budget_seconds(monitor)
    for url in monitor.urls:
        for _ in range(monitor.samples):
            left = deadline - time.monotonic()
            if left <= 0:
                return Outcome(ok=False, message=f"the probe took longer than {budget_seconds(monitor):g} s")
            got = fetch(url, timeout=min(monitor.timeout_seconds, left))
            if got.error or got.status is None or got.status >= 400:
                return Outcome(
                    ok=False,
                    message=f"{_path(url)}: {got.error or f'HTTP {got.status}'}",
                    latency_ms=got.latency_ms,
                    status_code=got.status,
                )
            latencies.append(got.latency_ms)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    problems = []
    if p50 > monitor.p50_threshold_ms:
        problems.append(f"p50 {p50:.0f} ms > {monitor.p50_threshold_ms} ms")
    if p95 > monitor.p95_threshold_ms:
        problems.append(f"p95 {p95:.0f} ms > {monitor.p95_threshold_ms} ms")
    message = "; ".join(problems) or f"p50 {p50:.0f} ms, p95 {p95:.0f} ms"
    return Outcome(ok=not problems, message=message, latency_ms=round(p95), value_1=p50, value_2=p95)


def _path(url: str) -> str:
    return url.split("://", 1)[-1][:80]


def _number(document: Any, path: str) -> float | None:
    found, value = json_at(document, path)
    if not found or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def business_check(monitor: Monitor, baseline: Baseline | None) -> Outcome:
    """Orders and conversion now, against the median of the same hour over the last 4 weeks.

    Fewer than 2 weeks of history: not judged (passes, and says so)."""
    got = fetch(monitor.url, timeout=monitor.timeout_seconds)
    if got.error or got.status != monitor.expected_status:
        message = got.error or f"HTTP {got.status} (expected {monitor.expected_status})"
        return Outcome(ok=False, message=message, latency_ms=got.latency_ms, status_code=got.status)
    parsed, document = _decode_json(got.body)
    names = (monitor.orders_field, monitor.conversion_field)
    fields = [(name, _number(document, name) if parsed and name else None) for name in names]
    (_, orders), (_, conversion) = fields

    def outcome(ok: bool, message: str) -> Outcome:
        return Outcome(ok, message, got.latency_ms, got.status, orders, conversion)

    missing = [name for name, value in fields if name and value is None]
    if missing:
        return outcome(False, f"no number at {', '.join(missing)} in the JSON body")
    if baseline is None or baseline.weeks < 2:
        return outcome(True, f"learning: {baseline.weeks if baseline else 0} of 4 weeks of history")
    drops = [
        f"{label} {value:g} < {monitor.drop_fraction:.0%} of {median:g}"
        for label, value, median in (
            ("orders", orders, baseline.orders),
            ("conversion", conversion, baseline.conversion),
        )
        if value is not None and median and value < monitor.drop_fraction * median
    ]
    if drops:
        return outcome(False, "; ".join(drops) + " (the same hour's median over 4 weeks)")
    return outcome(True, ", ".join(f"{name} {value:g}" for name, value in fields if value is not None))


def error_rate_outcome(monitor: Monitor, *, errors: int, requests_served: int) -> Outcome:
    """The window's error rate against the threshold; too few requests: not judged (passes)."""
    window = f"in {monitor.window_seconds // 60} min"
    if requests_served < max(1, monitor.min_requests):
        message = f"{errors} errors, {requests_served} requests {window}: too few requests to judge"
        return Outcome(ok=True, message=message, value_1=errors, value_2=requests_served)
    rate = errors / requests_served
    above = rate > monitor.error_rate_threshold
    message = (
        f"error rate {rate:.3%} of {requests_served:,} requests {window} "
        f"({'above' if above else 'within'} {monitor.error_rate_threshold:.2%})"
    )
    return Outcome(ok=not above, message=message, value_1=errors, value_2=requests_served)


def run(plan: Plan) -> Outcome:
    """The check for a plan; never raises (a bug in a check is a failed check that says so)."""
    if plan.outcome is not None:
        return plan.outcome
    monitor = plan.monitor
    try:
        if monitor.kind == Kind.HTTP:
            return http_check(monitor)
        if monitor.kind == Kind.PERFORMANCE:
            return performance_check(monitor)
        if monitor.kind == Kind.BUSINESS:
            return business_check(monitor, plan.baseline)
    except Exception as exc:  # a check must not take the runner down
        return Outcome(ok=False, message=f"check failed: {type(exc).__name__}")
    return Outcome(ok=False, message=f"nothing to check for kind {monitor.kind!r}")


# A probe stops when it has used this share of its interval (or MAX_CHECK_SECONDS), and fails.
PROBE_SHARE = 0.8
MAX_CHECK_SECONDS = 120


def budget_seconds(monitor: Monitor) -> float:
    """The longest a check of this monitor can take (its lease is this plus a margin): one request's
    timeout; a probe's requests, cut at 80 % of its interval (at most 120 s); nothing for a feed."""
    if monitor.kind == Kind.PERFORMANCE:
        requests_made = max(1, len(monitor.urls or [])) * monitor.samples
        return min(monitor.timeout_seconds * requests_made, PROBE_SHARE * monitor.interval_seconds, MAX_CHECK_SECONDS)
    if monitor.kind == Kind.ERROR_RATE:
        return 0.0
    return monitor.timeout_seconds
