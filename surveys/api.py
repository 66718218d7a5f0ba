"""The REST API's shapes for ratings. The endpoint, POST /api/v1/tickets/{reference}/rating/,
runs a use case, so its view is a door in support.api."""

from __future__ import annotations

from rest_framework import serializers

from sofacover.parsers import StrictJSONTypes


class RatingRequestSerializer(StrictJSONTypes, serializers.Serializer):
    score = serializers.IntegerField(
        min_value=1,
        max_value=5,
        help_text="1 (very poor) to 5 (excellent).",
        error_messages={
            "min_value": "Choose a score from 1 to 5.",
            "max_value": "Choose a score from 1 to 5.",
            "invalid": "Choose a score from 1 to 5.",
        },
    )
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RatingSerializer(serializers.Serializer):
    ticket = serializers.CharField(source="ticket.reference", read_only=True)
    score = serializers.IntegerField(read_only=True)
    comment = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
