"""Seed the four runbooks of the procedures document and a dozen public FAQs.

Idempotent: an article whose slug exists is left alone (agents may have
edited it since). Each new article gets its rendering, its search index entry
and revision 1, as the services would write them. The rendering is the app's
pure markdown function (knowledge.rendering), imported on purpose: the seed
must look exactly like an article saved by an agent.
"""

from django.db import migrations
from django.utils import timezone

STEPS_INTRO = "Work through the steps in order and tick each one on the ticket as you go."

RUNBOOKS = [
    (
        "runbook-site-performance",
        "Runbook: site performance issues",
        "site_performance",
        ["runbook", "performance", "cdn"],
        [
            "Check CDN status and cache hit rates",
            "Monitor database query performance",
            "Verify server resource utilization",
            "Check for DDoS or unusual traffic patterns",
        ],
        "Pages are slow or time out. A page more than 50 % slower than usual is a P1; the whole site down is a P0.",
    ),
    (
        "runbook-authentication",
        "Runbook: authentication problems",
        "authentication",
        ["runbook", "authentication", "login"],
        [
            "Verify Supabase service status",
            "Check JWT token expiration settings",
            "Validate environment variables",
            "Test authentication flow manually",
        ],
        "Customers cannot sign in, are signed out unexpectedly or cannot reset their password. "
        "Authentication issues are P1.",
    ),
    (
        "runbook-payment-processing",
        "Runbook: payment processing issues",
        "payment",
        ["runbook", "payment", "checkout"],
        [
            "Check payment gateway status",
            "Verify API credentials and webhooks",
            "Monitor transaction logs for errors",
            "Test payment flow with test cards",
        ],
        "Checkout fails, payments are declined for everyone or orders are not confirmed after payment. "
        "A payment failure is a P0.",
    ),
    (
        "runbook-database-connectivity",
        "Runbook: database connectivity",
        "database",
        ["runbook", "database", "supabase"],
        [
            "Check Supabase dashboard for outages",
            "Verify connection pool settings",
            "Monitor query performance and locks",
            "Check RLS policies for access issues",
        ],
        "Errors mention the database, pages fail to load data, or data looks missing. "
        "Data loss is a P0.",
    ),
]


def runbook_body(symptoms, steps):
    lines = [
        "## When to use",
        "",
        symptoms,
        "",
        "## Steps",
        "",
        STEPS_INTRO,
        "",
        *[f"- [ ] {step}" for step in steps],
        "",
        "## If the steps do not resolve it",
        "",
        "- Escalate to Tier 2 with what you found at each step (P0 after 30 min, P1 after 2 h at the latest).",
        "- P0/P1 still unresolved after 4 h go to management.",
        "- Post updates in `#support-critical` (P0/P1) or `#support-general` (P2/P3).",
        "",
    ]
    return "\n".join(lines)


FAQS = [
    (
        "track-my-order",
        "How do I track my order?",
        "orders",
        ["orders", "delivery"],
        "As soon as your sofa cover leaves our warehouse we email you a tracking link.\n\n"
        "1. Sign in to your account and open **My orders**.\n"
        "2. Choose the order and select **Track parcel**.\n\n"
        "Tracking can take up to 24 hours to show the first scan. If it has not moved for three working days, "
        "[contact us](/tickets/new/) with your order number.",
    ),
    (
        "change-or-cancel-an-order",
        "Can I change or cancel my order?",
        "orders",
        ["orders", "cancellation"],
        "You can change the size, colour or delivery address, or cancel, until the order is packed — usually "
        "within 2 hours of ordering.\n\n"
        "Open **My orders**, choose the order and select **Change** or **Cancel**. If the buttons are gone, the "
        "order has been packed: you can still return it for a refund once it arrives (see our returns policy).",
    ),
    (
        "delivery-times",
        "How long does delivery take?",
        "orders",
        ["delivery", "shipping"],
        "| Service | Mainland UK | Highlands, islands, Northern Ireland |\n"
        "|---|---|---|\n"
        "| Standard | 3–5 working days | 5–7 working days |\n"
        "| Express | next working day if ordered by 1 pm | 2–3 working days |\n\n"
        "Made-to-measure covers are made for you and ship within 10 working days.",
    ),
    (
        "international-delivery",
        "Do you deliver outside the UK?",
        "orders",
        ["delivery", "shipping", "international"],
        "Yes, to the EU, the USA, Canada and Australia. Delivery takes 5–10 working days. "
        "Import duties and taxes may be charged by your country on arrival; they are not included in our prices.",
    ),
    (
        "returns-policy",
        "What is your returns policy?",
        "orders",
        ["returns", "refund"],
        "You can return unused covers in their original packaging within **30 days** of delivery.\n\n"
        "1. Open **My orders** and select **Return an item**.\n"
        "2. Print the prepaid label and drop the parcel at any collection point.\n\n"
        "Made-to-measure covers can only be returned if they are faulty.",
    ),
    (
        "how-refunds-work",
        "How do I get a refund?",
        "payment",
        ["refund", "returns", "payment"],
        "We refund to the card or account you paid with within 5 working days of receiving your return. "
        "Your bank may take another 3–5 working days to show the refund.\n\n"
        "If you cancelled before the order was packed, the refund is issued the same day.",
    ),
    (
        "measure-your-sofa",
        "How do I measure my sofa for a cover?",
        "other",
        ["sizing", "measuring"],
        "Measure with a soft tape, in centimetres:\n\n"
        "| Measurement | Where |\n"
        "|---|---|\n"
        "| Width | the outside of one arm to the outside of the other |\n"
        "| Depth | the front of the seat to the back of the backrest |\n"
        "| Height | the floor to the top of the backrest |\n\n"
        "Pick the size whose width range includes your sofa. Between two sizes? Choose the larger one: "
        "the elastic edges take up the slack.",
    ),
    (
        "cover-does-not-fit",
        "My cover does not fit — what can I do?",
        "other",
        ["sizing", "returns", "exchange"],
        "Most fit problems come from a measurement taken over the cushions. Measure again as described in "
        "[How do I measure my sofa for a cover?](/kb/measure-your-sofa/). If you need a different size, "
        "we exchange covers free of charge within 30 days: start a return and choose **Exchange for another "
        "size**.",
    ),
    (
        "payment-methods",
        "Which payment methods do you accept?",
        "payment",
        ["payment", "checkout"],
        "We accept Visa, Mastercard, American Express, PayPal, Apple Pay and Google Pay. "
        "You can also spread the cost with Klarna on orders over £50. We never store your full card number.",
    ),
    (
        "payment-declined",
        "Why was my payment declined?",
        "payment",
        ["payment", "checkout", "card"],
        "A payment is usually declined by the bank, not by us. Check that:\n\n"
        "- the billing address matches the one your bank has;\n"
        "- the card has not expired and has enough available funds;\n"
        "- you completed your bank's security check (3-D Secure).\n\n"
        "If the payment still fails, try another method or contact us: a declined payment never creates "
        "an order, so you will not be charged twice.",
    ),
    (
        "reset-your-password",
        "How do I reset my password?",
        "authentication",
        ["accounts", "password", "login"],
        "Select **Forgotten your password?** on the sign-in page and enter your email address. We email you a "
        "link that is valid for 24 hours. No email after 10 minutes? Check your spam folder, then contact us.",
    ),
    (
        "update-or-delete-your-account",
        "How do I update my details or delete my account?",
        "authentication",
        ["accounts", "privacy"],
        "Sign in and open **Account settings** to change your name, email address, password or saved "
        "addresses. To delete your account and personal data, select **Delete my account**; orders we must "
        "keep for tax purposes are anonymised.",
    ),
    (
        "wash-your-sofa-cover",
        "How do I wash my sofa cover?",
        "other",
        ["care", "washing"],
        "Machine wash at 30 °C on a gentle cycle, zipped and inside out. Do not tumble dry: "
        "put the cover back on the sofa while slightly damp and it will dry to shape without creases.",
    ),
]

WEIGHTED_VECTOR = (
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(tag_text, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(body_text, '')), 'C')"
)


def _index(schema_editor, article):
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(f"UPDATE knowledge_article SET search_vector = {WEIGHTED_VECTOR} WHERE id = %s", [article.pk])
        elif vendor == "sqlite":
            cursor.execute("DELETE FROM knowledge_article_fts WHERE rowid = %s", [article.pk])
            cursor.execute(
                "INSERT INTO knowledge_article_fts (rowid, title, tags, body) VALUES (%s, %s, %s, %s)",
                [article.pk, article.title, article.tag_text, article.body_text],
            )


def seed(apps, schema_editor):
    from knowledge.rendering import html_to_text, render_markdown

    Article = apps.get_model("knowledge", "Article")
    Revision = apps.get_model("knowledge", "ArticleRevision")
    Tag = apps.get_model("knowledge", "Tag")
    now = timezone.now()
    entries = [
        (slug, title, category, tags, runbook_body(symptoms, steps), "internal")
        for slug, title, category, tags, steps, symptoms in RUNBOOKS
    ] + [(slug, title, category, tags, body, "public") for slug, title, category, tags, body in FAQS]
    for slug, title, category, tag_names, body, audience in entries:
        if Article.objects.filter(slug=slug).exists():
            continue
        body_html = render_markdown(body)
        article = Article.objects.create(
            slug=slug,
            title=title,
            body=body,
            body_html=body_html,
            body_text=html_to_text(body_html),
            tag_text=" ".join(tag_names),
            audience=audience,
            category=category,
            status="published",
            created_at=now,
            updated_at=now,
            published_at=now,
        )
        tags = [Tag.objects.get_or_create(slug=name, defaults={"name": name})[0] for name in tag_names]
        article.tags.set(tags)
        Revision.objects.create(
            article=article,
            number=1,
            title=title,
            body=body,
            audience=audience,
            category=category,
            status="published",
            tags=sorted(tag_names),
            created_at=now,
            note="seeded from the procedures document" if audience == "internal" else "seeded FAQ",
        )
        _index(schema_editor, article)


def unseed(apps, schema_editor):
    slugs = [entry[0] for entry in RUNBOOKS] + [entry[0] for entry in FAQS]
    apps.get_model("knowledge", "Article").objects.filter(slug__in=slugs).delete()


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0003_roles")]

    operations = [migrations.RunPython(seed, unseed)]
