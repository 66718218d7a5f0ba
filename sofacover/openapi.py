"""The API's OpenAPI schema class: the answers every operation can give are documented, not guessed.

drf-spectacular documents what `@extend_schema` lists. The framework itself
answers more than that, and the same way for every operation:

- 400 for a malformed request: a NUL character in a parameter, a bad
  `page_size`, a body nested too deeply or not JSON;
- 401 without credentials or with a token that is not valid, on every
  operation (an invalid token is refused even where signing in is optional);
- 403 on unsafe methods (a session without its CSRF token, or a role that may
  not);
- 404 where the path names something (a reference, a slug) and on paginated
  lists (a page past the last);
- 415 where there is a body, sent in a content type the operation does not read.

This class adds those where an operation does not list them itself, and gives
every error a body schema: `ValidationError` for 400 (field names with their
messages, or a `detail`), `Refusal` for the rest (`detail`, or `code` and
`message` for a rule of the desk).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.authentication import SessionAuthentication

MESSAGES = {"type": "array", "items": {"type": "string"}}
TEXT = {"type": "string"}

ERROR_COMPONENTS: dict[str, dict[str, Any]] = {
    "ValidationError": {
        "type": "object",
        "description": (
            "Invalid input: each field or parameter at fault with its messages (`non_field_errors` for the "
            "whole body), or a `detail` for a body that could not be read; a rule of the desk adds `code` "
            "and `message`. Errors inside a list or an object are keyed by index or name."
        ),
        "properties": {"detail": TEXT, "code": TEXT, "message": TEXT},
        "additionalProperties": {"oneOf": [MESSAGES, {"type": "object"}]},
    },
    "Refusal": {
        "type": "object",
        "description": "A refusal: `detail`, or `code` and `message` when a rule of the desk refused.",
        "properties": {"detail": TEXT, "code": TEXT, "message": TEXT},
        "additionalProperties": MESSAGES,
    },
}
VALIDATION_ERROR = {"$ref": "#/components/schemas/ValidationError"}
REFUSAL = {"$ref": "#/components/schemas/Refusal"}

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_DESCRIPTIONS = {
    400: "Invalid input: the fields or parameters at fault, each with its messages.",
    401: "Not signed in, or the token is not valid.",
    403: "Signed in, but not allowed (with a session: the CSRF token is missing or wrong).",
    404: "Not found, or not yours (and a page past the last).",
    415: "The body is in a content type this operation does not read.",
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers the framework gives on every operation."""

    def _get_response_bodies(self, direction="response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        self._register_error_components()
        for code in self._framework_errors():
            responses.setdefault(str(code), {"description": DEFAULT_DESCRIPTIONS[code]})
        for status_code, response in responses.items():
            if status_code.startswith("4"):
                schema = VALIDATION_ERROR if status_code == "400" else REFUSAL
                response["content"] = {"application/json": {"schema": self._error_schema(response, schema)}}
        return responses

    def _framework_errors(self) -> list[int]:
        codes = [400]
        if self.view.authentication_classes:
            codes.append(401)
        sessions = any(issubclass(cls, SessionAuthentication) for cls in self.view.authentication_classes)
        if self.method in UNSAFE and sessions:
            codes.append(403)
        if "{" in self.path or (self.method == "GET" and self._is_list_view() and self._get_paginator()):
            codes.append(404)
        if self.method in UNSAFE and self.get_request_serializer() is not None:
            codes.append(415)
        return codes

    @staticmethod
    def _error_schema(response: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
        """Keep a documented error body that names a component (409's code and message); otherwise the default."""
        for media in (response.get("content") or {}).values():
            schema = media.get("schema") or {}
            if "$ref" in schema:
                return schema
        return default

    def _register_error_components(self) -> None:
        for name, schema in ERROR_COMPONENTS.items():
            self.registry.register_on_missing(
                ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name)
            )
