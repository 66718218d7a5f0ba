"""``{% queue_result_list cl %}``: the admin's ``{% result_list cl %}`` with rows from sofacover.admin_rows."""

from __future__ import annotations

from django import template
from django.contrib.admin.templatetags.admin_list import result_headers, result_hidden_fields
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.views.main import ChangeList

from sofacover import admin_rows

register = template.Library()


def queue_result_list(cl: ChangeList) -> dict:
    """The context Django's result_list gives its template (change_list_results.html)."""
    headers = list(result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sum(1 for header in headers if header["sortable"] and header["sorted"]),
        "results": list(admin_rows.results(cl)),
    }


@register.tag(name="queue_result_list")
def queue_result_list_tag(parser, token):
    return InclusionAdminNode(
        parser, token, func=queue_result_list, template_name="change_list_results.html", takes_context=False
    )
