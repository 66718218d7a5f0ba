"""The articles API: parse input, make one service or selector call, render.

Reads are open to everyone and show only what the caller may see (selectors);
writes need the knowledge permission. An article the caller may not see is a
404, exactly like one that does not exist.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from sofacover.auth import signed_in_user
from sofacover.openapi import REFUSAL, VALIDATION_ERROR
from sofacover.parsers import JSONParser
from tickets.api.serializers import ErrorSerializer

from .. import permissions, search, selectors, services
from ..filters import ArticleFilter
from ..models import Article
from . import serializers as s

ERRORS = {
    400: OpenApiResponse(VALIDATION_ERROR, description="Invalid input: field names with their messages."),
    401: OpenApiResponse(REFUSAL, description="Not signed in."),
    403: OpenApiResponse(REFUSAL, description="Signed in, but not allowed."),
    404: OpenApiResponse(REFUSAL, description="No such article (or not one you may see)."),
    409: OpenApiResponse(ErrorSerializer, description="Refused by a rule, e.g. voting on an unpublished article."),
}
SEARCH_LIMIT = 100
SUGGEST_LIMIT = 5


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


SLUG_PATTERN = r"[-a-zA-Z0-9_]+"
SLUG = OpenApiParameter(
    "slug", str, OpenApiParameter.PATH, pattern=rf"^{SLUG_PATTERN}$", description="The article's slug."
)
LIST_PARAMETERS = [
    OpenApiParameter(
        "q",
        str,
        description=(
            "Full-text search (stemmed; typo-tolerant on PostgreSQL). With q, results come best match "
            "first with `score` and a highlighted `snippet`; at most 100."
        ),
    ),
    OpenApiParameter("category", str, many=True, enum=Article.Category.values),
    OpenApiParameter(
        "audience",
        str,
        enum=Article.Audience.values,
        description="`internal` is for agents only: anyone else gets a 400 naming the field.",
    ),
    OpenApiParameter(
        "status",
        str,
        many=True,
        enum=Article.Status.values,
        description="Anything but `published` is for agents only: anyone else gets a 400 naming the field.",
    ),
    OpenApiParameter("tag", str, description="A tag slug."),
]


@extend_schema_view(
    list=extend_schema(
        summary="Articles you may see",
        description=(
            "Customers and anonymous visitors see published public articles only; agents see every article "
            "(narrow with audience/status). Without q: most recently updated first."
        ),
        parameters=LIST_PARAMETERS,
        responses={200: s.ArticleSearchResultSerializer, **errors(400, 404)},
        # Security requirement objects, which drf-spectacular passes on as they are (its annotation says names).
        auth=[{}, {"tokenAuth": []}, {"cookieAuth": []}],  # type: ignore[list-item]
    ),
    retrieve=extend_schema(
        summary="One article",
        parameters=[SLUG],
        responses={200: s.ArticleSerializer, **errors(404)},
        # Security requirement objects, which drf-spectacular passes on as they are (its annotation says names).
        auth=[{}, {"tokenAuth": []}, {"cookieAuth": []}],  # type: ignore[list-item]
    ),
)
class ArticleViewSet(viewsets.GenericViewSet):
    serializer_class = s.ArticleSerializer
    permission_classes = [permissions.ArticleWritePermission]
    parser_classes = [JSONParser]
    filter_backends: list = []
    lookup_field = "slug"
    lookup_value_regex = SLUG_PATTERN

    def get_queryset(self):
        return selectors.article_list_visible_to(user=self.request.user)

    def get_object(self) -> Article:
        return selectors.article_get_visible_to(user=self.request.user, slug=self.kwargs["slug"])

    def list(self, request: Request) -> Response:
        filterset = ArticleFilter(request.query_params, queryset=self.get_queryset(), user=request.user)
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        articles = filterset.qs
        q = request.query_params.get("q", "").strip()
        if not q:
            page = self.paginate_queryset(articles.order_by("-updated_at", "id")) or []
            for article in page:
                article.score = article.snippet = None
            return self.get_paginated_response(s.ArticleSearchResultSerializer(page, many=True).data)
        rows = []
        for result in self.paginate_queryset(search.search_within(articles, q, limit=SEARCH_LIMIT)) or []:
            # What ArticleSearchResultSerializer shows besides the article's own fields.
            result.article.score, result.article.snippet = result.score, str(result.snippet)  # type: ignore[attr-defined]
            rows.append(result.article)
        return self.get_paginated_response(s.ArticleSearchResultSerializer(rows, many=True).data)

    def retrieve(self, request: Request, slug: str) -> Response:
        return Response(s.ArticleSerializer(self.get_object()).data)

    @extend_schema(
        summary="Write an article (agents with the knowledge permission)",
        request=s.ArticleCreateSerializer,
        responses={201: s.ArticleSerializer, **errors(400, 401, 403)},
    )
    def create(self, request: Request) -> Response:
        data = s.ArticleCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        article = services.article_create(actor=signed_in_user(request), now=timezone.now(), **data.validated_data)
        return Response(self._fresh(article), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit an article (agents with the knowledge permission)",
        description="Only the fields sent change; a save that changes nothing writes no revision.",
        parameters=[SLUG],
        request=s.ArticleUpdateSerializer,
        responses={200: s.ArticleSerializer, **errors(400, 401, 403, 404)},
    )
    def partial_update(self, request: Request, slug: str) -> Response:
        article = self.get_object()
        data = s.ArticleUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        article = services.article_update(
            article=article, actor=signed_in_user(request), now=timezone.now(), **data.validated_data
        )
        return Response(self._fresh(article))

    def _fresh(self, article: Article) -> dict:
        return s.ArticleSerializer(selectors.article_get_visible_to(user=self.request.user, slug=article.slug)).data

    @extend_schema(
        summary="Suggested articles for a draft ticket subject",
        description=(
            "The top 5 published articles sharing words with q, best first. Customers and anonymous "
            "visitors get public articles only; agents may also get internal runbooks."
        ),
        parameters=[
            OpenApiParameter(
                "q",
                {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
                required=True,
                description="The draft ticket subject: some text, at most 200 characters.",
            )
        ],
        responses={200: s.SuggestionSerializer(many=True), **errors(400)},
        # Security requirement objects, which drf-spectacular passes on as they are (its annotation says names).
        auth=[{}, {"tokenAuth": []}, {"cookieAuth": []}],  # type: ignore[list-item]
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def suggest(self, request: Request) -> Response:
        query = s.SuggestQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        results = search.article_search(
            user=request.user, q=query.validated_data["q"], limit=SUGGEST_LIMIT, match="any", published_only=True
        )
        rows = [
            {
                "slug": r.article.slug,
                "title": r.article.title,
                "audience": r.article.audience,
                "category": r.article.category,
                "score": r.score,
                "snippet": str(r.snippet),
            }
            for r in results
        ]
        return Response(s.SuggestionSerializer(rows, many=True).data)

    @extend_schema(
        summary="Was this article helpful?",
        description=(
            "One answer per visitor per article: answering again *replaces* your earlier answer (200, "
            "`replaced: true`) and the counters follow. Signed-in users only through the API; anonymous "
            "visitors answer on the portal page (CSRF-protected, one per session)."
        ),
        parameters=[SLUG],
        request=s.VoteSerializer,
        responses={201: s.VoteResultSerializer, 200: s.VoteResultSerializer, **errors(400, 401, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def vote(self, request: Request, slug: str) -> Response:
        if not permissions.can_vote(request.user):
            raise NotAuthenticated()
        article = self.get_object()
        data = s.VoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vote, created = services.article_vote(
            article=article,
            voter_key=selectors.visitor_key(user=request.user, session_key=None),
            user=request.user,
            now=timezone.now(),
            **data.validated_data,
        )
        body = {
            "helpful": vote.helpful,
            "comment": vote.comment,
            "replaced": not created,
            "helpful_yes": article.helpful_yes,
            "helpful_no": article.helpful_no,
        }
        return Response(s.VoteResultSerializer(body).data, status=status.HTTP_201_CREATED if created else 200)

    @extend_schema(
        summary="An article's revisions, newest first (agents)",
        parameters=[SLUG],
        responses={200: s.RevisionSerializer(many=True), **errors(401, 403, 404)},
    )
    @action(detail=True, methods=["get"])
    def revisions(self, request: Request, slug: str) -> Response:
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        article = self.get_object()
        if not permissions.can_view_revisions(request.user):
            raise PermissionDenied(gettext("Only support agents can read revisions."))
        page = self.paginate_queryset(selectors.article_revisions(article=article))
        return self.get_paginated_response(s.RevisionSerializer(page, many=True).data)
