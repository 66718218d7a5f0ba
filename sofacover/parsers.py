"""How the API reads JSON: DRF's parser with the nesting of a body bounded, and values held to their types.

Python's JSON decoder recurses once per level of nesting, so a body of ten
thousand ``[`` raised RecursionError, a 500, from every JSON endpoint, the
anonymous token endpoint included. No body the API takes nests deeper than a
few levels: deeper is a 400 that says so, whether the decoder gave up or not.

It is DRF's default parser (settings.REST_FRAMEWORK), and views that choose
their own parsers list this one for JSON. The input serializers add
StrictJSONTypes, so a JSON value of the wrong type is a 400 rather than coerced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.utils import html

MAX_DEPTH = 32
TOO_DEEP = f"JSON nested deeper than {MAX_DEPTH} levels is refused: send a flatter body."


def nesting_exceeds(data: Any, limit: int) -> bool:
    """Whether ``data`` (decoded JSON) has containers more than ``limit`` levels deep; no recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children: Iterable[Any]
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


# --- the JSON types of a body's values ---------------------------------------------------------

NOT_A_STRING = "Must be a string."
NOT_A_BOOLEAN = "Must be true or false."
NOT_A_NUMBER = "Must be a number."
NOT_A_WHOLE_NUMBER = "Must be a whole number."
NOT_A_LIST = "Must be a list."
NOT_AN_OBJECT = "Must be an object."


def json_type_error(field: serializers.Field, value: Any) -> str | dict[int, list[str]] | None:
    """Why ``value`` (from a JSON body) does not have the JSON type ``field`` is documented with; None if it has.

    DRF's fields coerce: a CharField takes 0 as "0", an IntegerField "5" as 5, a
    BooleanField "yes" as true, a ChoiceField of tiers "2" as 2. Form and multipart
    bodies need that (every value arrives as text); JSON bodies carry types, and the
    schema documents them. null is left to the field (allow_null decides).
    """
    if value is None or isinstance(field, serializers.FileField | serializers.JSONField):
        return None
    if isinstance(field, serializers.MultipleChoiceField | serializers.ListField):
        if not isinstance(value, list):
            return NOT_A_LIST
        child = getattr(field, "child", None)
        if child is None:
            return None
        errors = {i: [error] for i, item in enumerate(value) if isinstance(error := json_type_error(child, item), str)}
        return errors or None
    if isinstance(field, serializers.ChoiceField):
        kinds = {json_kind(key) for key in field.choices}
        if json_kind(value) not in kinds:
            return NOT_A_WHOLE_NUMBER if kinds == {"integer"} else NOT_A_STRING
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else NOT_A_BOOLEAN
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else NOT_A_WHOLE_NUMBER
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else NOT_A_NUMBER
    if isinstance(field, serializers.BaseSerializer | serializers.DictField):
        return None if isinstance(value, dict) else NOT_AN_OBJECT
    if isinstance(field, serializers.CharField | serializers.DateTimeField | serializers.DateField):
        return None if isinstance(value, str) else NOT_A_STRING
    return None


def json_kind(value: Any) -> str:
    """The JSON type of a decoded value (an enum member of str is a string; true is not a number)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


class StrictJSONTypes:
    """Serializer mixin: a JSON body's values must have the types the schema documents (0 is not a string).

    Each field sent with the wrong JSON type is a 400 naming it; form and multipart
    bodies (all text) keep DRF's coercion.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and not html.is_html_input(data):
            errors: dict[str, Any] = {}
            for field in self._writable_fields:  # type: ignore[attr-defined]
                if field.field_name in data:
                    error = json_type_error(field, data[field.field_name])
                    if error is not None:
                        errors[field.field_name] = [error] if isinstance(error, str) else error
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]
