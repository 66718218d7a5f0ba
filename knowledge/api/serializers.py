"""Input and output shapes of the articles API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.models import Ticket

from ..models import Article, ArticleRevision
from ..services import MAX_BODY, MAX_COMMENT, MAX_TAGS, MAX_TITLE


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class TagNamesField(serializers.Field):
    """Tag names; reads from the prefetched tags (no query per article)."""

    def to_representation(self, value):
        return [tag.name for tag in value.all()]

    def to_internal_value(self, data):
        raise NotImplementedError  # read-only here; inputs use ListField


class StrictCharField(serializers.CharField):
    """A JSON string only: 0 or true is a 400, not silently "0" / "True". Its length is checked as
    sent, as the schema's maxLength says, not after trimming: 201 characters whose first is one
    str.strip() removes (a space, U+001D) are refused like any 201."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictSlugField(StrictCharField, serializers.SlugField):
    pass


class StrictChoiceField(serializers.ChoiceField):
    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only."""

    default_error_messages = {"not_a_boolean": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("not_a_boolean")
        return data


class ArticleSerializer(serializers.ModelSerializer):
    tags = TagNamesField(read_only=True)
    body_html = serializers.CharField(read_only=True, help_text="The body rendered from markdown and sanitised.")

    class Meta:
        model = Article
        fields = [
            "slug",
            "title",
            "audience",
            "category",
            "tags",
            "status",
            "body",
            "body_html",
            "updated_at",
            "published_at",
            "helpful_yes",
            "helpful_no",
        ]
        read_only_fields = fields


class ArticleSearchResultSerializer(ArticleSerializer):
    """An article found by ``q``: how well it matched and where."""

    score = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="With q: higher is better, comparable within one response; else null.",
    )
    snippet = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="With q: HTML, the escaped body text with the matched words in <mark>; else null.",
    )

    class Meta(ArticleSerializer.Meta):
        fields = [*ArticleSerializer.Meta.fields, "score", "snippet"]
        read_only_fields = fields


class SuggestionSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    audience = serializers.ChoiceField(choices=Article.Audience.choices)
    category = serializers.ChoiceField(choices=Ticket.Category.choices)
    score = serializers.FloatField()
    snippet = serializers.CharField(help_text="HTML: escaped text with the matched words in <mark>.")


class ArticleCreateSerializer(serializers.Serializer):
    title = StrictCharField(max_length=MAX_TITLE)
    body = StrictCharField(max_length=MAX_BODY, trim_whitespace=False, help_text="Markdown.")
    audience = StrictChoiceField(choices=Article.Audience.choices, default=Article.Audience.PUBLIC)
    category = StrictChoiceField(choices=Ticket.Category.choices, default=Ticket.Category.OTHER)
    status = StrictChoiceField(choices=Article.Status.choices, default=Article.Status.DRAFT)
    tags = serializers.ListField(
        child=StrictCharField(max_length=50), max_length=MAX_TAGS, default=list, help_text="Tag names."
    )
    slug = StrictSlugField(max_length=200, required=False, help_text="Made from the title when left out.")


class ArticleUpdateSerializer(ArticleCreateSerializer):
    """Every field optional; only the fields sent change."""

    title = StrictCharField(max_length=MAX_TITLE, required=False)
    body = StrictCharField(max_length=MAX_BODY, trim_whitespace=False, required=False, help_text="Markdown.")
    audience = StrictChoiceField(choices=Article.Audience.choices, required=False)
    category = StrictChoiceField(choices=Ticket.Category.choices, required=False)
    status = StrictChoiceField(choices=Article.Status.choices, required=False)
    tags = serializers.ListField(
        child=StrictCharField(max_length=50), max_length=MAX_TAGS, required=False, help_text="Tag names."
    )


class VoteSerializer(serializers.Serializer):
    helpful = StrictBooleanField()
    comment = StrictCharField(max_length=MAX_COMMENT, required=False, allow_blank=True, default="")


class VoteResultSerializer(serializers.Serializer):
    helpful = serializers.BooleanField()
    comment = serializers.CharField()
    replaced = serializers.BooleanField(help_text="True when this replaced your earlier answer.")
    helpful_yes = serializers.IntegerField()
    helpful_no = serializers.IntegerField()


class RevisionSerializer(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.username", read_only=True, allow_null=True, default=None)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ArticleRevision
        fields = [
            "number",
            "title",
            "body",
            "audience",
            "category",
            "status",
            "tags",
            "created_by",
            "created_at",
            "note",
        ]
        read_only_fields = fields


class SuggestQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=200, help_text="The draft ticket subject.")
