"""A changelist's rows built a column at a time, with the HTML Django's admin would write.

Django's ``items_for_result()`` works out for every cell what its column is
(field lookup, display rules, link, CSS classes, empty value, change URL). On
the agents' queue, 50 rows of a dozen columns, that was the largest part of
the page's time. Here each column is worked out once per page and each cell
only reads and escapes its value; a row reaches the template as one string.
tests/tickets/test_admin_rows.py holds the output equal to Django's own
function. Changelists this does not cover (editable lists, popups, ``to_field``)
take Django's path unchanged.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.admin.templatetags.admin_list import ResultList, items_for_result
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import (
    FieldIsAForeignKeyColumnName,
    _get_non_gfk_field,
    display_for_field,
    display_for_value,
    lookup_field,
    quote,
)
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

# Stands for the primary key in the change URL built once per page (letters and digits:
# reverse() and the preserved filters leave it as it is).
PK_MARK = "0rowpk0"
# Fields whose cells are their text, escaped (URLField and FileField have links of their own).
PLAIN_TEXT_FIELDS = (models.CharField, models.TextField)
LINKING_FIELDS = (models.URLField, models.FileField)

Cell = Callable[[models.Model], str]


def results(cl: ChangeList) -> Iterator[ResultList]:
    """What ``admin_list.results(cl)`` yields, with each row's cells joined into one string."""
    if cl.formset or cl.is_popup or cl.to_field:
        yield from (ResultList(None, items_for_result(cl, result, None)) for result in cl.result_list)
        return
    cells = list(_cells(cl))
    for result in cl.result_list:
        # safe: each cell escaped its own content (conditional_escape keeps a column's own markup)
        yield ResultList(None, [mark_safe("".join([cell(result) for cell in cells]))])


def _cells(cl: ChangeList) -> Iterator[Cell]:
    first = True
    for index, field_name in enumerate(cl.list_display):
        link = cl.list_display_links is not None and (
            (first and not cl.list_display_links) or field_name in cl.list_display_links
        )
        yield _cell(cl, index, field_name, link=link, tag="th" if link and first else "td")
        if link:
            first = False


def _cell(cl: ChangeList, index: int, field_name: Any, *, link: bool, tag: str) -> Cell:
    """One column: the function from an object to its cell's HTML, as items_for_result writes it."""
    name = _column_name(field_name, index)
    classes = "action-checkbox" if field_name == "action_checkbox" else f"field-{name}"
    content = _content(cl, field_name, classes, avoid_link=link)
    wrap = _link(cl) if link else None

    def cell(result: models.Model) -> str:
        inner, shown_classes = content(result)
        return f'<{tag} class="{shown_classes}">{wrap(result, inner) if wrap else inner}</{tag}>'

    return cell


def _column_name(field_name: Any, index: int) -> str:
    if callable(field_name):
        return f"lambda{index}" if field_name.__name__ == "<lambda>" else field_name.__name__
    return field_name


def _content(
    cl: ChangeList, field_name: Any, classes: str, *, avoid_link: bool
) -> Callable[[models.Model], tuple[str, str]]:
    """The cell's escaped inner HTML and its CSS classes."""
    model_admin = cl.model_admin
    empty = model_admin.get_empty_value_display()
    field = None
    if not callable(field_name):
        try:
            field = _get_non_gfk_field(cl.lookup_opts, field_name)
        except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
            field = None

    if field is not None and not field.auto_created:
        if isinstance(field, (models.DateField, models.TimeField, models.ForeignKey)):
            classes = f"field-{field_name} nowrap"
        else:
            classes = f"field-{field_name}"
        if isinstance(field.remote_field, models.ManyToOneRel):

            def related(result: models.Model) -> tuple[str, str]:
                try:
                    value = getattr(result, field_name)
                except ObjectDoesNotExist:
                    return conditional_escape(empty), f"field-{field_name}"
                return conditional_escape(empty if value is None else value), classes

            return related
        choices = _choices(field)
        plain = isinstance(field, PLAIN_TEXT_FIELDS) and not isinstance(field, LINKING_FIELDS)

        def from_field(result: models.Model) -> tuple[str, str]:
            value = getattr(result, field_name)
            if isinstance(value, str) and value.strip() == "":
                value = ""
            if choices is not None:
                try:
                    shown = choices.get(value, empty)
                except TypeError:  # an unhashable value: Django's own way
                    shown = display_for_field(value, field, empty, avoid_link=avoid_link)
            elif plain and isinstance(value, str):
                shown = value or empty
            else:
                shown = display_for_field(value, field, empty, avoid_link=avoid_link)
            return conditional_escape(shown), classes

        return from_field

    # A callable or a ModelAdmin method: called; anything else (model attributes and
    # properties, auto-created fields) is looked up cell by cell as Django does.
    if callable(field_name):
        attr = field_name
    elif field is None and hasattr(model_admin, field_name) and field_name != "__str__":
        attr = getattr(model_admin, field_name)
    else:
        return _looked_up(cl, field_name, classes, empty)
    shown_empty = getattr(attr, "empty_value_display", empty)
    boolean = getattr(attr, "boolean", False)

    def from_callable(result: models.Model) -> tuple[str, str]:
        try:
            value = attr(result)
        except ObjectDoesNotExist:
            return conditional_escape(empty), classes
        if isinstance(value, str) and not boolean:
            # A SafeString (the column's own markup) stays as it is; text is escaped.
            return conditional_escape(value if value.strip() else shown_empty), classes
        return _displayed(value, classes, shown_empty, boolean)

    return from_callable


def _looked_up(cl: ChangeList, field_name: str, classes: str, empty: str) -> Callable[[models.Model], tuple[str, str]]:
    def content(result: models.Model) -> tuple[str, str]:
        try:
            _, attr, value = lookup_field(field_name, result, cl.model_admin)
        except ObjectDoesNotExist:
            return conditional_escape(empty), classes
        if isinstance(value, str) and value.strip() == "":
            value = ""
        boolean = getattr(attr, "boolean", False)
        if isinstance(attr, property) and hasattr(attr, "fget"):
            boolean = getattr(attr.fget, "boolean", False)
        return _displayed(value, classes, getattr(attr, "empty_value_display", empty), boolean)

    return content


def _displayed(value: Any, classes: str, empty: str, boolean: bool) -> tuple[str, str]:
    if isinstance(value, (datetime.date, datetime.time)):
        classes = f"{classes} nowrap"
    return conditional_escape(display_for_value(value, empty, boolean)), classes


def _choices(field: models.Field) -> dict | None:
    if not getattr(field, "flatchoices", None):
        return None
    try:
        return dict(field.flatchoices)
    except TypeError:  # list-like choices: leave them to display_for_field
        return None


def _link(cl: ChangeList) -> Callable[[models.Model, str], str]:
    """Wrap a cell's content in the link to the object's change page, preserved filters included."""
    pk_attname = cl.pk_attname
    template = None
    if isinstance(cl.lookup_opts.pk, (models.AutoField, models.BigAutoField, models.IntegerField)):
        try:
            template = _with_filters(cl, _change_url(cl, PK_MARK))
        except NoReverseMatch:
            return lambda result, inner: inner

    def wrap(result: models.Model, inner: str) -> str:
        if template is not None:
            url = template.replace(PK_MARK, str(getattr(result, pk_attname)), 1)
        else:
            try:
                url = _with_filters(cl, cl.url_for_result(result))
            except NoReverseMatch:
                return inner
        return f'<a href="{conditional_escape(url)}">{inner}</a>'

    return wrap


def _change_url(cl: ChangeList, pk: str) -> str:
    return reverse(
        f"admin:{cl.opts.app_label}_{cl.opts.model_name}_change",
        args=(quote(pk),),
        current_app=cl.model_admin.admin_site.name,
    )


def _with_filters(cl: ChangeList, url: str) -> str:
    return add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url)
