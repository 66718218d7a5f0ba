"""Bulk loading of articles for ``manage.py bench_kb``: a help centre the size of a big shop's.

Articles are built from phrase pools (the same articles for the same numbers), rendered
and sanitised exactly as the save services do, and inserted a batch at a time
with their tags, revision 1 and search index entries. No signals are sent and
no per-article services run; the database constraints still apply. Never used
for real articles: those go through services.article_create.

The word mix is what a search benchmark needs: "cover" and "sofa" are in
nearly every article, "delivery" or "refund" in a good share, "chesterfield"
or "jacquard" in a handful, so searches range from thousands of matches to a few.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.text import slugify

from knowledge import search
from knowledge.models import Article, ArticleRevision, Tag
from knowledge.rendering import html_to_text, render_markdown
from tickets.models import Ticket

Category = Ticket.Category

PRODUCTS = [
    "sofa cover",
    "stretch sofa cover",
    "corner sofa cover",
    "L-shaped sofa cover",
    "armchair cover",
    "recliner cover",
    "loveseat cover",
    "cushion cover",
    "sofa bed cover",
    "waterproof sofa cover",
    "pet-proof sofa cover",
    "made-to-measure sofa cover",
]
FABRICS = ["cotton", "linen", "velvet", "polyester", "microfibre", "faux leather", "stretch knit", "twill"]
# Rare on purpose: a handful of articles each (the "rare word" searches).
RARE = ["chesterfield", "jacquard", "chaise longue", "futon", "ottoman", "bouclé", "daybed", "chenille"]
COLOURS = ["charcoal", "sand", "navy", "sage green", "ivory", "terracotta", "dove grey", "mustard"]
PLACES = ["mainland UK", "the Highlands", "Northern Ireland", "the EU", "the USA", "Canada", "Australia"]
METHODS = ["Visa", "Mastercard", "American Express", "PayPal", "Apple Pay", "Google Pay", "Klarna"]
PAGES = ["checkout", "product", "basket", "search results", "order history", "size guide"]

TAGS_BY_CATEGORY: dict[str, list[str]] = {
    Category.ORDERS: ["orders", "delivery", "shipping", "returns", "exchange", "tracking", "cancellation"],
    Category.PAYMENT: ["payment", "refund", "checkout", "card", "klarna", "invoice", "vouchers"],
    Category.AUTHENTICATION: ["account", "login", "password", "two-factor", "email"],
    Category.SITE_PERFORMANCE: ["performance", "cdn", "monitoring", "incident", "runbook"],
    Category.DATABASE: ["database", "supabase", "backups", "runbook", "incident"],
    Category.OTHER: ["sizing", "measuring", "care", "washing", "fabrics", "colours", "pets"],
}
CATEGORY_WEIGHTS = {
    Category.ORDERS: 30,
    Category.PAYMENT: 18,
    Category.AUTHENTICATION: 10,
    Category.SITE_PERFORMANCE: 7,
    Category.DATABASE: 5,
    Category.OTHER: 30,
}

PUBLIC_TITLES: dict[str, list[str]] = {
    Category.ORDERS: [
        "How do I track my {product} order?",
        "Delivery of a {product} to {place}",
        "Returning a {fabric} {product}",
        "Can I change the colour of my {product} order to {colour}?",
        "My {product} arrived damaged",
        "Exchanging a {product} for another size",
        "Cancelling a {product} order before it ships",
        "Missing parts in my {product} parcel",
    ],
    Category.PAYMENT: [
        "Paying for a {product} with {method}",
        "Why was my {method} payment declined?",
        "When will I get my refund for a {product}?",
        "Using a voucher on a {product}",
        "Getting a VAT invoice for your {product} order",
        "Spreading the cost of a {product} with Klarna",
    ],
    Category.AUTHENTICATION: [
        "I cannot sign in to my account",
        "Resetting your password from the {page} page",
        "Changing the email address on your account",
        "Turning on two-factor sign-in",
        "Why was I signed out while paying for a {product}?",
    ],
    Category.SITE_PERFORMANCE: [
        "The {page} page is slow to load",
        "Pictures of the {colour} {product} do not load",
    ],
    Category.DATABASE: [
        "My saved {product} measurements are missing",
        "My order history looks empty",
    ],
    Category.OTHER: [
        "Washing a {fabric} {product}",
        "Measuring your sofa for a {product}",
        "Which {product} fits a {rare}?",
        "Keeping a {colour} {product} looking new",
        "Is a {fabric} {product} good with pets?",
        "Ironing and steaming a {fabric} {product}",
        "Choosing between {fabric} and {fabric2} for a {product}",
    ],
}
INTERNAL_TITLES: dict[str, list[str]] = {
    Category.ORDERS: [
        "Runbook: {product} parcels stuck at the carrier",
        "Runbook: re-sending a {product} after a lost delivery to {place}",
    ],
    Category.PAYMENT: [
        "Runbook: {method} payments failing at checkout",
        "Runbook: duplicate charges for a {product}",
        "Runbook: refunds not reaching {method} customers",
    ],
    Category.AUTHENTICATION: [
        "Runbook: sign-in failures after a deploy",
        "Runbook: password reset emails not arriving",
    ],
    Category.SITE_PERFORMANCE: [
        "Runbook: slow {page} pages",
        "Runbook: CDN cache misses on {product} images",
        "Runbook: traffic spike on the {page} page",
    ],
    Category.DATABASE: [
        "Runbook: database connection pool exhausted",
        "Runbook: slow queries on the {page} page",
        "Runbook: restoring {product} orders from backup",
    ],
    Category.OTHER: [
        "Runbook: handling a complaint about a {fabric} {product}",
        "Runbook: {rare} fit questions from customers",
    ],
}
SENTENCES = [
    "Your {product} is made from {fabric} and comes in {colour} and seven other colours.",
    "Most customers receive their {product} within 3 to 5 working days in {place}.",
    "If the {product} does not fit, you can exchange it free of charge within 30 days of delivery.",
    "We refund to the card or account you paid with, usually within 5 working days of receiving the return.",
    "Measure the width of your sofa from the outside of one arm to the outside of the other.",
    "Wash the {fabric} cover at 30 degrees on a gentle cycle and let it dry flat, away from direct heat.",
    "Payments by {method} are confirmed straight away; the order then appears in My orders.",
    "A {colour} {product} can look slightly different on screen; order a free fabric sample first.",
    "Tracking can take up to 24 hours to show the first scan once the parcel leaves our warehouse.",
    "Made-to-measure covers are cut for you and can only be returned when they are faulty.",
    "Elastic edges and tuck-in foam strips keep the cover in place on seats of most depths.",
    "Sign in with the email address you used at checkout; guest orders can be added to an account later.",
    "If the {page} page keeps loading, clear your browser cache and try again in a private window.",
    "Our customer support team answers within a working day, faster for orders already on their way.",
    "Covers for pets have a tighter weave, so claws catch less and hair brushes off easily.",
    "The care label inside the cover lists the washing temperature for its {fabric}.",
]
RARE_SENTENCES = [
    "A {rare} needs the long-seat size: measure the seat from the back to the front edge.",
    "We do not make a dedicated cover for a {rare} yet, but the stretch range fits most of them.",
    "Customers with a {rare} often choose {fabric}, which drapes well over curved arms.",
]
STEPS = [
    "Open **My orders** and choose the order",
    "Select **Return an item** and print the prepaid label",
    "Drop the parcel at any collection point",
    "Measure the seat width, depth and back height in centimetres",
    "Compare your measurements with the size guide",
    "Check the payment provider's status page",
    "Look up the order number in the payment dashboard",
    "Confirm the customer's billing address matches the card",
    "Check CDN status and cache hit rates",
    "Monitor database query performance",
    "Verify the connection pool settings",
    "Reply to the customer with the tracking link",
]
RUNBOOK_CHECKS = [
    "Check the status page of the provider",
    "Look for errors in the last hour of logs",
    "Compare the failure rate with the same hour last week",
    "Verify environment variables after the last deploy",
    "Test the flow by hand with a test account",
    "Post an update in #support-critical",
    "Escalate to Tier 2 with what each step showed",
    "Confirm with the customer that it works again",
]


@dataclass(frozen=True)
class LoadArticle:
    title: str
    body: str
    audience: str
    category: str
    status: str
    tags: tuple[str, ...]
    updated_at: datetime
    helpful_yes: int
    helpful_no: int


def _fill(template: str, rng: random.Random) -> str:
    fabric, fabric2 = rng.sample(FABRICS, 2)
    return template.format(
        product=rng.choice(PRODUCTS),
        fabric=fabric,
        fabric2=fabric2,
        colour=rng.choice(COLOURS),
        place=rng.choice(PLACES),
        method=rng.choice(METHODS),
        page=rng.choice(PAGES),
        rare=rng.choice(RARE),
    )


def _paragraph(rng: random.Random, sentences: int) -> str:
    picked = [_fill(rng.choice(SENTENCES), rng) for _ in range(sentences)]
    if rng.random() < 0.01:
        picked.insert(rng.randrange(len(picked) + 1), _fill(rng.choice(RARE_SENTENCES), rng))
    return " ".join(picked)


def _body(rng: random.Random, *, internal: bool) -> str:
    parts = [_paragraph(rng, rng.randint(2, 4)), ""]
    if internal:
        steps = rng.sample(RUNBOOK_CHECKS, rng.randint(4, 6))
        parts += ["## Steps", "", *[f"- [ ] {step}" for step in steps], ""]
    else:
        parts += ["## What to do", ""]
        parts += [f"{n}. {step}" for n, step in enumerate(rng.sample(STEPS, rng.randint(2, 4)), start=1)]
        parts.append("")
    if rng.random() < 0.25:
        parts += ["| Size | Seat width |", "|---|---|"]
        parts += [f"| {size} | {low} to {low + 40} cm |" for size, low in (("S", 120), ("M", 160), ("L", 200))]
        parts.append("")
    for _ in range(rng.randint(1, 3)):
        parts += [f"## {rng.choice(['Good to know', 'Before you start', 'If it still does not work'])}", ""]
        parts += [_paragraph(rng, rng.randint(3, 6)), ""]
    return "\n".join(parts)


def load_articles_build(count: int, *, now: datetime, start: int = 0) -> Iterator[LoadArticle]:
    """Load articles ``start`` to ``start + count - 1`` (each the same every time): ~80 % public, ~85 % published."""
    categories, weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
    for n in range(start, start + count):
        rng = random.Random(n)
        category = rng.choices(categories, weights)[0]
        internal = rng.random() < 0.2
        titles = (INTERNAL_TITLES if internal else PUBLIC_TITLES)[category]
        draw = rng.random()
        status = Article.Status.PUBLISHED
        if draw < 0.15:
            status = Article.Status.DRAFT if draw < 0.1 else Article.Status.ARCHIVED
        yes = int(rng.paretovariate(1.2)) - 1
        yield LoadArticle(
            title=_fill(rng.choice(titles), rng)[:200],
            body=_body(rng, internal=internal),
            audience=Article.Audience.INTERNAL if internal else Article.Audience.PUBLIC,
            category=category,
            status=status,
            tags=tuple(rng.sample(TAGS_BY_CATEGORY[category], rng.randint(1, 3))),
            updated_at=now - timedelta(minutes=rng.randrange(60 * 24 * 365)),
            helpful_yes=min(yes, 5000),
            helpful_no=rng.randrange(5),
        )


def _tags_ensure(names: set[str]) -> dict[str, Tag]:
    slugs = {slugify(name): name for name in names}
    found = {tag.slug: tag for tag in Tag.objects.filter(slug__in=slugs)}
    missing = [Tag(slug=slug, name=name) for slug, name in slugs.items() if slug not in found]
    Tag.objects.bulk_create(missing, ignore_conflicts=True)
    found = {tag.slug: tag for tag in Tag.objects.filter(slug__in=slugs)}
    return {name: found[slugify(name)] for name in names}


def _free_slugs(titles: Sequence[str], start: int) -> list[str]:
    wanted = [f"{slugify(title)[:180] or 'article'}-{start + i}" for i, title in enumerate(titles)]
    taken = set(Article.objects.filter(slug__in=wanted).values_list("slug", flat=True))
    return [f"{slug}-x" if slug in taken else slug for slug in wanted]


def articles_bulk_load(
    *,
    count: int,
    now: datetime,
    start: int = 0,
    batch_size: int = 500,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Insert load articles ``start`` to ``start + count - 1`` with rendering, tags, revision 1 and search index.

    Returns the number inserted; ``on_batch`` hears each batch's size (a progress bar).
    """
    built = load_articles_build(count, now=now, start=start)
    tags = _tags_ensure({name for names in TAGS_BY_CATEGORY.values() for name in names})
    Through = Article.tags.through
    done = 0
    while done < count:
        batch = [next(built) for _ in range(min(batch_size, count - done))]
        slugs = _free_slugs([item.title for item in batch], start=start + done)
        articles = []
        for item, slug in zip(batch, slugs, strict=True):
            body_html = render_markdown(item.body)
            articles.append(
                Article(
                    title=item.title,
                    slug=slug,
                    body=item.body,
                    body_html=body_html,
                    body_text=html_to_text(body_html),
                    tag_text=" ".join(sorted(item.tags)),
                    audience=item.audience,
                    category=item.category,
                    status=item.status,
                    created_at=item.updated_at,
                    updated_at=item.updated_at,
                    published_at=item.updated_at if item.status == Article.Status.PUBLISHED else None,
                    helpful_yes=item.helpful_yes,
                    helpful_no=item.helpful_no,
                )
            )
        with transaction.atomic():
            Article.objects.bulk_create(articles)
            if any(article.pk is None for article in articles):  # backends that return no ids
                by_slug = dict(Article.objects.filter(slug__in=slugs).values_list("slug", "pk"))
                for article in articles:
                    article.pk = by_slug[article.slug]
            Through.objects.bulk_create(
                [
                    Through(article_id=article.pk, tag_id=tags[name].pk)
                    for article, item in zip(articles, batch, strict=True)
                    for name in item.tags
                ]
            )
            ArticleRevision.objects.bulk_create(
                [
                    ArticleRevision(
                        article_id=article.pk,
                        number=1,
                        title=article.title,
                        body=article.body,
                        audience=article.audience,
                        category=article.category,
                        status=article.status,
                        tags=sorted(item.tags),
                        created_at=article.created_at,
                        note="bulk load",
                    )
                    for article, item in zip(articles, batch, strict=True)
                ]
            )
            search.index_articles(articles)
        done += len(batch)
        if on_batch:
            on_batch(len(batch))
    return done
