"""The REST API's sign-in: an API token for an email address and password."""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from sofacover import ratelimit as limits
from sofacover.openapi import REFUSAL, VALIDATION_ERROR
from sofacover.parsers import JSONParser


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Your email address.")
    password = serializers.CharField(style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


@extend_schema(
    request=TokenRequestSerializer,
    responses={
        200: TokenSerializer,
        400: OpenApiResponse(VALIDATION_ERROR, description="Invalid input: field names with their messages."),
        429: OpenApiResponse(REFUSAL, description="Too many attempts; try again later."),
    },
    auth=[],
    description=(
        "Exchange email address and password for an API token. Wrong passwords are limited per client "
        "address and per client address and account, together with the portal and console logins (429)."
    ),
)
class TokenView(ObtainAuthToken):
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser]

    def post(self, request: Request, *args, **kwargs) -> Response:
        # The account as parsed, whatever the body's content type (JSON or form).
        limits.LOGIN.check(request, request.data.get("username") if isinstance(request.data, Mapping) else None)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
