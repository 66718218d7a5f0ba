"""Keeping the reports' rollup equal to the live definitions: per-ticket facts, daily rows, histograms.

One set of SQL expressions (``fact_source``) turns a ticket into its fact row under
the definitions of ``queries`` and ``metrics``. ``rollup_rebuild`` applies it to every ticket and
aggregates the facts into the daily rows and histograms, set-based; ``facts_refresh``
applies it to the tickets a change touched, inside the change's transaction, and
moves the daily rows and histograms by the difference between the old fact and
the new one. Both paths use the same expressions, so they cannot drift apart; the
tests hold both equal to the same figures computed from the tickets.

A key of the daily rows and histograms is spread over ``SLOTS`` rows: a change moves
the row ``ticket id % SLOTS``, so concurrent changes to the same figures take different
row locks; readers sum the slots. The rebuild writes slot 0, and ``rollup_fold`` (beat,
nightly) folds the slots of the days past back into it, so reads stay one row per key
for all but the last days.

Only what the clock decides stays live (``metrics`` asks the tickets): whether an
unanswered ticket is already past its response deadline, and the open backlog.
Deadlines the SLA engine moves without a ticket change (a policy recompute)
reach the facts at the ticket's next change or the next rebuild.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

from django.db import OperationalError, connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Floor, Ln, Round, TruncDate
from psycopg.errors import LockNotAvailable

from escalation.models import SlaBreach
from sofacover.dbutil import column_of, insert_many
from tickets.models import Ticket, TicketEvent

from . import queries
from .filters import desk_zone
from .models import DailyRollup, DurationHistogram, TicketFact

# bucket = floor(BUCKETS_PER_E * ln(1 + seconds)): each bucket about 10.5 % wider than the one before,
# about 160 buckets up to a quarter of a year. Only the order matters for exactness (see metrics).
BUCKETS_PER_E = 10
DIMENSIONS = ["priority", "tier", "category", "channel", "assignee_id"]
FACT_FIELDS = [
    *DIMENSIONS,
    "created_at",
    "created_day",
    "resolved_at",
    "resolved_day",
    "active",
    "first_response_due_at",
    "resolution_due_at",
    "response_seconds",
    "response_bucket",
    "response_met",
    "response_late_seconds",
    "response_breached",
    "resolution_seconds",
    "resolution_microseconds",
    "resolution_bucket",
    "resolution_met",
    "resolution_late_seconds",
    "resolution_breached",
    "first_contact",
    "rating",
]
FLAGS = {"active", "response_met", "response_breached", "resolution_met", "resolution_breached", "first_contact"}
ROLLUP_KEY = ["day", *DIMENSIONS]
ROLLUP_SUMS = [
    "created",
    "answered",
    "response_met",
    "response_breached",
    "resolved",
    "resolution_met",
    "resolution_breached",
    "resolution_microseconds",
    "first_contact",
    "ratings",
    *(f"score_{s}" for s in range(1, 6)),
]
HISTOGRAM_KEY = ["day", "clock", "priority", "bucket"]
# Rows per key that writers spread over. Measured with bench_chat (200 chats answered at once): with one
# row per key the desk's lines queued on the histogram's row lock of the minute's bucket.
SLOTS = 8
ADD_UP_ROWS = 500  # rows per upsert statement
RESPONSE, RESOLUTION = DurationHistogram.Clock.RESPONSE.value, DurationHistogram.Clock.RESOLUTION.value


# --- one ticket's fact, as SQL ------------------------------------------------------


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def _bucket(seconds: Any, done: str) -> Case:
    return Case(
        When(**{f"{done}__isnull": True}, then=Value(None)),
        When(**{f"{done}__lte": F("created_at")}, then=Value(0)),
        default=Cast(Floor(Ln(seconds + Value(1.0)) * Value(float(BUCKETS_PER_E))), IntegerField()),
        output_field=IntegerField(),
    )


def _late(due: str, done: str) -> Case:
    return Case(
        When(Q(**{f"{due}__isnull": False, f"{done}__gt": F(due)}), then=queries.Seconds(F(due), F(done))),
        default=Value(None),
        output_field=FloatField(),
    )


def fact_source() -> QuerySet[Ticket]:
    """Tickets annotated ``fact_<field>`` with their fact row (see models.TicketFact).

    Breaches and reopenings are looked up per ticket (correlated EXISTS on their
    indexes): cheap for one ticket, and linear for all of them, where an IN list
    too big for the database's sort memory would be probed row by row.
    """

    def having(model: Any, **lookups: Any) -> Q:
        return Q(Exists(model.objects.filter(ticket_id=OuterRef("pk"), **lookups)))

    zone = desk_zone()
    fields: dict[str, Any] = {
        "ticket_id": F("pk"),
        "priority": F("priority"),
        "tier": F("tier"),
        "category": F("category"),
        "channel": F("channel"),
        "assignee_id": Coalesce(F("assignee_id"), Value(0)),
        "created_at": F("created_at"),
        "created_day": TruncDate("created_at", tzinfo=zone),
        "resolved_at": F("resolved_at"),
        "resolved_day": TruncDate("resolved_at", tzinfo=zone),
        "active": _flag(Q(status__in=Ticket.ACTIVE_STATUSES)),
        "first_response_due_at": F("first_response_due_at"),
        "resolution_due_at": F("resolution_due_at"),
        "response_seconds": queries.RESPONSE_SECONDS,
        "response_bucket": _bucket(queries.RESPONSE_SECONDS, "first_responded_at"),
        "response_met": _flag(queries.RESPONDED_IN_TARGET),
        "response_late_seconds": _late("first_response_due_at", "first_responded_at"),
        "response_breached": _flag(having(SlaBreach, kind=SlaBreach.Kind.FIRST_RESPONSE)),
        "resolution_seconds": queries.RESOLUTION_SECONDS,
        "resolution_microseconds": Cast(Round(queries.RESOLUTION_SECONDS * Value(1e6)), BigIntegerField()),
        "resolution_bucket": _bucket(queries.RESOLUTION_SECONDS, "resolved_at"),
        "resolution_met": _flag(queries.RESOLVED_IN_TARGET),
        "resolution_late_seconds": _late("resolution_due_at", "resolved_at"),
        "resolution_breached": _flag(having(SlaBreach, kind=SlaBreach.Kind.RESOLUTION)),
        "first_contact": _flag(
            Q(first_responded_at__isnull=False, last_agent_reply_at=F("first_responded_at"))
            & ~having(TicketEvent, kind=TicketEvent.Kind.REOPENED)
        ),
        "rating": F("rating__score"),
    }
    return Ticket.objects.order_by().annotate(**{f"fact_{name}": expression for name, expression in fields.items()})


# Building and compiling fact_source() costs several milliseconds of Python, more than running it:
# every ticket change would pay it. The query is compiled once per process for a few list sizes.
FACT_QUERY_MAX_IDS = 128
_fact_queries: dict[tuple, tuple[Any, str, list[Any], list[int], list[str], dict]] = {}


def _fact_query(size: int) -> tuple[Any, str, list[Any], list[int], list[str], dict]:
    """fact_source() for ``size`` ticket ids, compiled: (compiler, sql, params, id positions, columns, converters)."""
    key = (connection.alias, connection.vendor, size, str(desk_zone()))
    compiled = _fact_queries.get(key)
    if compiled is None:
        sentinels = [-(2**40) - i for i in range(size)]  # stand-ins for the ids, found again among the params
        names = ["ticket_id", *FACT_FIELDS]
        query = fact_source().filter(pk__in=sentinels).values(*(f"fact_{n}" for n in names)).query
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        params = list(params)
        positions = [params.index(sentinel) for sentinel in sentinels]
        columns = [alias.removeprefix("fact_") for _, _, alias in compiler.select]
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        compiled = _fact_queries[key] = (compiler, sql, params, positions, columns, converters)
    return compiled


def _facts_run(ticket_ids: list[int], statement: Callable[[str, list[str]], str]) -> dict[int, dict[str, Any]]:
    """The facts of ``ticket_ids``, by id: the compiled fact query per FACT_QUERY_MAX_IDS tickets, run as
    ``statement(sql, columns)`` says (the query itself, or a statement around it returning the same columns)."""
    facts: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ticket_ids), FACT_QUERY_MAX_IDS):
        chunk = list(ticket_ids[start : start + FACT_QUERY_MAX_IDS])
        size = 1 << (len(chunk) - 1).bit_length()  # 1, 2, 4, ... 128: a handful of compiled queries
        chunk += [chunk[-1]] * (size - len(chunk))  # repeated ids match once
        compiler, sql, template, positions, columns, converters = _fact_query(size)
        params = list(template)
        for position, ticket_id in zip(positions, chunk, strict=True):
            params[position] = ticket_id
        with connection.cursor() as cursor:
            cursor.execute(statement(sql, columns), params)
            rows = cursor.fetchall()
        if converters:
            rows = compiler.apply_converters(rows, converters)
        for row in rows:
            values = dict(zip(columns, row, strict=True))
            facts[values.pop("ticket_id")] = _normal(values)
    return facts


def _facts_of(ticket_ids: list[int]) -> dict[int, dict[str, Any]]:
    return _facts_run(ticket_ids, lambda sql, columns: sql)


def _facts_insert(ticket_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Facts of tickets created in this transaction: INSERT ... SELECT the fact query ... RETURNING them.

    One statement per FACT_QUERY_MAX_IDS tickets where reading and then writing took two; the facts come
    back as stored, as facts_refresh reads them later.
    """
    q = connection.ops.quote_name

    def insert(sql: str, columns: list[str]) -> str:
        names = ", ".join(q(column_of(TicketFact, name)) for name in columns)
        return f"INSERT INTO {q(TicketFact._meta.db_table)} ({names}) SELECT * FROM ({sql}) AS src RETURNING {names}"

    return _facts_run(ticket_ids, insert)


def _normal(fact: dict[str, Any]) -> dict[str, Any]:
    for name in FLAGS:
        fact[name] = bool(fact[name])
    return fact


# --- what a fact adds to the daily rows and histograms ------------------------------


def contributions(fact: dict[str, Any]) -> tuple[dict[tuple, Counter], Counter]:
    """The daily-row sums and histogram counts one fact adds (the rebuild's SQL, for one ticket)."""
    dims = tuple(fact[d] for d in DIMENSIONS)
    rows: dict[tuple, Counter] = defaultdict(Counter)
    histogram: Counter = Counter()
    rows[(fact["created_day"], *dims)].update(
        created=1,
        answered=int(fact["response_seconds"] is not None),
        response_met=int(fact["response_met"]),
        response_breached=int(fact["response_breached"]),
    )
    if fact["response_bucket"] is not None:
        histogram[(fact["created_day"], RESPONSE, fact["priority"], fact["response_bucket"])] += 1
    if fact["resolved_day"] is not None:
        rating = fact["rating"]
        resolved = Counter(
            resolved=1,
            resolution_met=int(fact["resolution_met"]),
            resolution_breached=int(fact["resolution_breached"]),
            resolution_microseconds=fact["resolution_microseconds"] or 0,
            first_contact=int(fact["first_contact"]),
            ratings=int(rating is not None),
        )
        if rating is not None:
            resolved[f"score_{rating}"] = 1
        rows[(fact["resolved_day"], *dims)].update(resolved)
        if fact["resolution_bucket"] is not None:
            histogram[(fact["resolved_day"], RESOLUTION, fact["priority"], fact["resolution_bucket"])] += 1
    return rows, histogram


def _add_up(table: str, key: list[str], sums: list[str], deltas: Mapping[tuple, Mapping[str, int]]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE SET c = c + excluded.c, keys sorted (no deadlock between writers)."""
    changed = sorted((k, d) for k, d in deltas.items() if any(d.get(s, 0) for s in sums))
    if not changed:
        return
    q = connection.ops.quote_name
    columns = [*key, *sums]
    updates = ", ".join(f"{q(s)} = {q(table)}.{q(s)} + excluded.{q(s)}" for s in sums)
    with connection.cursor() as cursor:
        for start in range(0, len(changed), ADD_UP_ROWS):  # within any database's parameter limit
            chunk = changed[start : start + ADD_UP_ROWS]
            values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(chunk))
            params = [p for k, d in chunk for p in (*k, *(d.get(s, 0) for s in sums))]
            sql = (
                f"INSERT INTO {q(table)} ({', '.join(map(q, columns))}) VALUES {values} "
                f"ON CONFLICT ({', '.join(map(q, key))}) DO UPDATE SET {updates}"
            )
            cursor.execute(sql, params)


def _move(changes: Iterable[tuple[int, dict[str, Any] | None, dict[str, Any] | None]]) -> None:
    """Move the daily rows and histograms by (ticket id, old fact, new fact): one upsert per table for them all.

    Each ticket moves the slot its id picks (both its old and new contribution: the same slot)."""
    rows: dict[tuple, Counter] = defaultdict(Counter)
    histogram: Counter = Counter()
    for ticket_id, old, new in changes:
        slot = ticket_id % SLOTS
        for fact, sign in ((old, -1), (new, 1)):
            if fact is None:
                continue
            fact_rows, fact_histogram = contributions(fact)
            for key, sums in fact_rows.items():
                rows[(*key, slot)].update({name: sign * value for name, value in sums.items()})
            for key, n in fact_histogram.items():
                histogram[(*key, slot)] += sign * n
    _add_up(DailyRollup._meta.db_table, [*ROLLUP_KEY, "slot"], ROLLUP_SUMS, rows)
    _add_up(
        DurationHistogram._meta.db_table,
        [*HISTOGRAM_KEY, "slot"],
        ["n"],
        {k: {"n": n} for k, n in histogram.items()},
    )


# --- keeping it current -------------------------------------------------------------


@transaction.atomic(savepoint=False)  # the change's own transaction: no savepoint of its own
def facts_refresh(*, ticket_ids: Iterable[int], created: bool = False) -> int:
    """Recompute these tickets' facts; move the daily rows and histograms by what changed.

    Called inside the transaction of the change (support.usecases). Returns how many
    facts changed. A ticket that no longer exists loses its fact. ``created``: the
    tickets were created in this transaction, so they have no fact to read yet.
    """
    ids = sorted(set(ticket_ids))
    if not ids:
        return 0
    if created:
        # No fact to compare with: write the facts straight from their query, then add them up.
        inserted = _facts_insert(ids)
        _move((pk, None, fact) for pk, fact in inserted.items())
        return len(inserted)
    new = _facts_of(ids)
    old = {
        row["ticket_id"]: _normal({n: row[n] for n in FACT_FIELDS})
        for row in TicketFact.objects.select_for_update().filter(ticket_id__in=ids).values("ticket_id", *FACT_FIELDS)
    }
    changed = [pk for pk in ids if new.get(pk) != old.get(pk)]
    if not changed:
        return 0
    _move((pk, old.get(pk), new.get(pk)) for pk in changed)
    written = [TicketFact(ticket_id=pk, **new[pk]) for pk in changed if pk in new]
    insert_many(written, update_conflicts=["ticket"])
    gone = [pk for pk in changed if pk not in new]
    if gone:
        TicketFact.objects.filter(ticket_id__in=gone).delete()
    return len(changed)


@transaction.atomic
def facts_forget(*, ticket_ids: Iterable[int]) -> None:
    """A ticket is being deleted: take its contribution out and drop its fact."""
    ids = sorted(set(ticket_ids))
    rows = TicketFact.objects.select_for_update().filter(ticket_id__in=ids).values("ticket_id", *FACT_FIELDS)
    _move((row["ticket_id"], _normal({n: row[n] for n in FACT_FIELDS}), None) for row in rows)
    TicketFact.objects.filter(ticket_id__in=ids).delete()


@transaction.atomic
def rollup_rebuild() -> dict[str, int]:
    """Recompute every fact, daily row and histogram from the tickets, set-based (a few statements)."""
    q = connection.ops.quote_name
    facts, rollup, histogram = (q(m._meta.db_table) for m in (TicketFact, DailyRollup, DurationHistogram))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Writers refreshing a fact wait for the rebuild, then move the rebuilt rows.
            cursor.execute(f"LOCK TABLE {facts}, {rollup}, {histogram} IN EXCLUSIVE MODE")
            cursor.execute("SET LOCAL work_mem = '64MB'")  # the GROUP BYs of a million facts, in memory
            cursor.execute("SET LOCAL jit = off")  # compiling costs more than it saves on these plain scans
            # TRUNCATE refuses while deferred foreign-key checks of this transaction are pending: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {histogram}, {rollup}, {facts}")  # no dead rows left behind
        else:
            for table in (histogram, rollup, facts):
                cursor.execute(f"DELETE FROM {table}")
        names = ["ticket_id", *FACT_FIELDS]
        source, params = fact_source().values(*(f"fact_{n}" for n in names)).query.sql_with_params()
        columns = ", ".join(q(column_of(TicketFact, n)) for n in names)
        aliases = ", ".join(q(f"fact_{n}") for n in names)
        cursor.execute(f"INSERT INTO {facts} ({columns}) SELECT {aliases} FROM ({source}) AS src", params)
        cursor.execute(_rollup_sql(facts, rollup))
        cursor.execute(_histogram_sql(facts, histogram))
    return {
        "facts": TicketFact.objects.count(),
        "daily_rows": DailyRollup.objects.count(),
        "histogram_rows": DurationHistogram.objects.count(),
    }


FOLD_ATTEMPTS = 50  # the fold's tries at the tables' locks, FOLD_RETRY_SECONDS apart
FOLD_RETRY_SECONDS = 0.2


def rollup_fold(*, before: date) -> int:
    """Fold the slots of the days before ``before`` into slot 0, and drop the rows that add up to nothing.

    The days past are seldom written (a late answer or resolution moves them), so one row per key is
    enough there, and the reports read one row per key for them. On PostgreSQL the fold takes both tables
    whole for its few milliseconds, without waiting (NOWAIT): while a change holds one of them it tries
    again a moment later, so it never waits holding a lock and no change can deadlock with it.
    Returns how many rows were folded or dropped.

    :raises OperationalError: the tables stayed busy for every attempt
    """
    for attempt in range(FOLD_ATTEMPTS):
        try:
            return _fold(before)
        except OperationalError as exc:
            if not isinstance(exc.__cause__, LockNotAvailable) or attempt == FOLD_ATTEMPTS - 1:
                raise
            time.sleep(FOLD_RETRY_SECONDS)
    raise AssertionError("unreachable")


@transaction.atomic
def _fold(before: date) -> int:
    if connection.vendor == "postgresql":
        q = connection.ops.quote_name
        with connection.cursor() as cursor:
            tables = ", ".join(q(m._meta.db_table) for m in (DailyRollup, DurationHistogram))
            cursor.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE NOWAIT")
    gone = 0
    for model, key, sums in ((DailyRollup, ROLLUP_KEY, ROLLUP_SUMS), (DurationHistogram, HISTOGRAM_KEY, ["n"])):
        past = model.objects.filter(day__lt=before)
        deltas: dict[tuple, Counter] = defaultdict(Counter)
        moved = []
        for row in past.filter(slot__gt=0).values("pk", *key, *sums).iterator():
            deltas[(*(row[k] for k in key), 0)].update({s: row[s] for s in sums})
            moved.append(row["pk"])
        for start in range(0, len(moved), ADD_UP_ROWS):
            model.objects.filter(pk__in=moved[start : start + ADD_UP_ROWS]).delete()
        _add_up(model._meta.db_table, [*key, "slot"], sums, deltas)
        empty, _ = past.filter(**{s: 0 for s in sums}).delete()
        gone += len(moved) + empty
    return gone


def _when(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _rollup_sql(facts: str, rollup: str) -> str:
    q = connection.ops.quote_name
    dims = ", ".join(q(d) for d in DIMENSIONS)
    created = {
        "created": "1",
        "answered": _when(f"{q('response_seconds')} IS NOT NULL"),
        "response_met": _when(q("response_met")),
        "response_breached": _when(q("response_breached")),
    }
    resolved = {
        "resolved": "1",
        "resolution_met": _when(q("resolution_met")),
        "resolution_breached": _when(q("resolution_breached")),
        "resolution_microseconds": f"COALESCE({q('resolution_microseconds')}, 0)",
        "first_contact": _when(q("first_contact")),
        "ratings": _when(f"{q('rating')} IS NOT NULL"),
        **{f"score_{s}": _when(f"{q('rating')} = {s}") for s in range(1, 6)},
    }
    part_created = ", ".join(f"{created.get(s, '0')} AS {q(s)}" for s in ROLLUP_SUMS)
    part_resolved = ", ".join(f"{resolved.get(s, '0')} AS {q(s)}" for s in ROLLUP_SUMS)
    sums = ", ".join(f"SUM({q(s)})" for s in ROLLUP_SUMS)
    return (
        f"INSERT INTO {rollup} ({q('day')}, {dims}, {', '.join(q(s) for s in ROLLUP_SUMS)}, {q('slot')}) "
        f"SELECT {q('day')}, {dims}, {sums}, 0 FROM ("
        f"SELECT {q('created_day')} AS {q('day')}, {dims}, {part_created} FROM {facts} "
        f"UNION ALL "
        f"SELECT {q('resolved_day')} AS {q('day')}, {dims}, {part_resolved} FROM {facts} "
        f"WHERE {q('resolved_day')} IS NOT NULL"
        f") AS parts GROUP BY {q('day')}, {dims}"
    )


def _histogram_sql(facts: str, histogram: str) -> str:
    q = connection.ops.quote_name
    parts = []
    for clock, day, bucket in (
        (RESPONSE, "created_day", "response_bucket"),
        (RESOLUTION, "resolved_day", "resolution_bucket"),
    ):
        parts.append(
            f"SELECT {q(day)}, '{clock}', {q('priority')}, {q(bucket)}, COUNT(*), 0 FROM {facts} "
            f"WHERE {q(bucket)} IS NOT NULL AND {q(day)} IS NOT NULL GROUP BY {q(day)}, {q('priority')}, {q(bucket)}"
        )
    columns = ", ".join(q(c) for c in (*HISTOGRAM_KEY, "n", "slot"))
    return f"INSERT INTO {histogram} ({columns}) " + " UNION ALL ".join(parts)
