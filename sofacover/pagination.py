"""API pagination: page numbers for short lists, keyset cursors for lists that grow with the desk.

Both take ``page_size`` from 1 to 100 and answer anything else with a 400.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import reduce
from operator import or_
from typing import Any

from django.core import signing
from django.db.models import F, Lookup, Model, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import remove_query_param, replace_query_param

MAX_PAGE_SIZE = 100


class PageSizeMixin(pagination.BasePagination):
    page_size: int | None  # the pagination class's default
    page_size_query_param: str | None = "page_size"
    max_page_size: int | None = MAX_PAGE_SIZE

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if not 1 <= size <= (self.max_page_size or MAX_PAGE_SIZE):
            raise ValidationError({"page_size": [f"Must be a whole number from 1 to {self.max_page_size}."]})
        return size

    def get_schema_operation_parameters(self, view):
        """``page`` counts from 1; ``page_size`` is 1 to max_page_size: what get_page_size() enforces."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"]["minimum"] = 1
                parameter["description"] = "A page number from 1; past the last page is a 404."
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
                parameter["description"] = f"Results per page, 1 to {self.max_page_size} (default {self.page_size})."
        return parameters


class PageNumberPagination(PageSizeMixin, pagination.PageNumberPagination):
    """Page numbers and a ``count``: for lists that stay short (a ticket's thread, the knowledge base)."""


class KeysetPagination(PageSizeMixin, pagination.CursorPagination):
    """``next`` and ``previous`` cursors over a unique order of several columns: no COUNT, no OFFSET.

    DRF's CursorPagination keys on the first ordering column and steps over ties
    with an offset; on an order that starts with a three-valued column every page
    would be an OFFSET scan. Here the cursor holds the last row's value of every
    ordering column (the order made unique with ``tie_breaker``), and a page is the
    rows after it in that order: an index in the same order reads page_size + 1
    entries, however large the table. The cursor is signed, so what reaches the
    query is always a position this class wrote; a forged, stale (other ordering)
    or garbled cursor is a 400.
    """

    ordering: tuple[str, ...] = ("pk",)
    tie_breaker = "id"
    salt = "sofacover.pagination.KeysetPagination"
    invalid_cursor_message = "This cursor is not valid for this list and ordering: start again from the first page."
    base_url: str
    position: tuple[Any, ...] | None  # the last row's ordering values

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        ordering = list(super().get_ordering(request, queryset, view))
        if not any(name.lstrip("-") in (self.tie_breaker, "pk") for name in ordering):
            # In the direction of the last key: one direction throughout lets an index seek the position.
            ordering.append(f"-{self.tie_breaker}" if ordering[-1].startswith("-") else self.tie_breaker)
        return tuple(ordering)

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list[Any]:  # type: ignore[override]
        # (Keyset paging needs a QuerySet, as DRF's CursorPagination does; BasePagination also allows a list.)
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        self.model = queryset.model
        self.cursor = self.decode_cursor(request)
        reverse = bool(self.cursor and self.cursor.reverse)
        # DRF's Cursor carries whatever position the paginator puts in it (the stub says int); ours is a tuple.
        self.position = self.cursor.position if self.cursor else None  # type: ignore[assignment]

        order = reversed_order(self.ordering) if reverse else self.ordering
        queryset = queryset.order_by(*order)
        if self.position is not None:
            queryset = queryset.filter(*rows_after(order, self.position))
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        self.page = rows[: self.page_size]
        if reverse:
            self.page.reverse()
            self.has_next, self.has_previous = True, more
        else:
            self.has_next, self.has_previous = more, self.position is not None
        self.display_page_controls = self.template is not None and (self.has_next or self.has_previous)
        return self.page

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:  # nothing before the cursor any more: the first page follows
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(self.page[-1], reverse=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.page:
            return self._link(None, reverse=True)
        return self._link(self.page[0], reverse=True)

    def _link(self, row: Model | None, *, reverse: bool) -> str:
        values = (self.position or ()) if row is None else [getattr(row, name.lstrip("-")) for name in self.ordering]
        payload = {"o": list(self.ordering), "r": int(reverse), "p": [_dump(value) for value in values]}
        # No timestamp in the token: the same position always makes the same link.
        token = signing.Signer(salt=self.salt).sign_object(payload, compress=True)
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def decode_cursor(self, request) -> pagination.Cursor | None:
        token = request.query_params.get(self.cursor_query_param)
        if token is None:
            return None
        try:
            payload = signing.Signer(salt=self.salt).unsign_object(token)
            if payload["o"] != list(self.ordering) or len(payload["p"]) != len(self.ordering):
                raise ValueError("another ordering")
            position = tuple(
                self._field(name).to_python(value) for name, value in zip(self.ordering, payload["p"], strict=True)
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from exc
        return pagination.Cursor(offset=0, reverse=bool(payload.get("r")), position=position)  # type: ignore[arg-type]

    def get_paginated_response_schema(self, schema: dict) -> dict:
        """``next``, ``previous`` (null at either end) and ``results``: always all three, and no count."""
        response = super().get_paginated_response_schema(schema)
        response["required"] = ["next", "previous", "results"]
        for link in ("next", "previous"):
            response["properties"][link].pop("example", None)  # DRF's sample cursors are not ours
        return response

    def _field(self, name: str):
        name = name.lstrip("-")
        return self.model._meta.pk if name == "pk" else self.model._meta.get_field(name)


def reversed_order(order: Sequence[str]) -> tuple[str, ...]:
    return tuple(name[1:] if name.startswith("-") else f"-{name}" for name in order)


def rows_after(order: Sequence[str], position: Sequence[Any]) -> list[Q | Lookup]:
    """Conditions for the rows after ``position`` in ``order`` (``-name`` descending), for an index to seek.

    One direction throughout: Django's own row-value comparison, ``(a, b, id) > (A, B, ID)``
    (the one composite primary keys use; spelled out as below where a database has none).
    Mixed directions: ``(a > A) or (a = A and b < B) or ...``. Either way ``a >= A``
    is repeated on its own, so the planner can start an index on ``a`` at the position.
    """
    fields = [name.lstrip("-") for name in order]
    descending = [name.startswith("-") for name in order]
    start = Q(**{f"{fields[0]}__{'lte' if descending[0] else 'gte'}": position[0]})
    if len(set(descending)) == 1:
        row = TupleLessThan if descending[0] else TupleGreaterThan
        return [start, row(Tuple(*(F(field) for field in fields)), tuple(position))]
    clauses, same = [], Q()
    for field, desc, value in zip(fields, descending, position, strict=True):
        clauses.append(same & Q(**{f"{field}__{'lt' if desc else 'gt'}": value}))
        same &= Q(**{field: value})
    return [start, reduce(or_, clauses)]


def _dump(value: Any) -> Any:
    """A JSON value the field's ``to_python`` reads back exactly (datetimes to the microsecond, in UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    json.dumps(value)  # anything else must already be JSON: fail here, not on the next request
    return value
