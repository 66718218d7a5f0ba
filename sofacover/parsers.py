"""The API's JSON parser: DRF's, with the nesting of a body bounded.

Python's JSON decoder recurses once per level of nesting, so a body of ten
thousand ``[`` raised RecursionError, a 500, from every JSON endpoint, the
anonymous token endpoint included. No body the API takes nests deeper than a
few levels: deeper is a 400 that says so, whether the decoder gave up or not.

It is DRF's default parser (settings.REST_FRAMEWORK), and views that choose
their own parsers list this one for JSON.
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32
TOO_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels is refused: send a flatter body."


def nesting_exceeds(data: Any, limit: int) -> bool:
    """Whether ``data`` (decoded JSON) has containers more than ``limit`` levels deep; no recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    """application/json, refusing bodies nested deeper than MAX_DEPTH with a 400."""

    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if nesting_exceeds(data, self.max_depth):
            raise ParseError(TOO_DEEP)
        return data
