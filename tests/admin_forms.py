"""What a browser would post back from a console change form, for tests that edit through the admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Put = Callable[[dict, str, Any], None]


def change_form_data(response, put: Put) -> dict:
    """The change form and every inline formset of ``response``, as rendered, each value written by
    ``put(data, name, value)`` the way its widget posts it; saved with "Save"."""
    data: dict = {}
    form = response.context["adminform"].form
    for name in form.fields:
        put(data, form.add_prefix(name), form[name].value())
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            put(data, management.add_prefix(name), management[name].value())
        for sub in formset.forms:
            for name in sub.fields:
                put(data, sub.add_prefix(name), sub[name].value())
    data["_save"] = "Save"
    return data
