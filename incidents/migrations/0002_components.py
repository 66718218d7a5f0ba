"""The components the procedures name, each with the ticket categories that belong to it."""

from django.db import migrations

COMPONENTS = [
    ("Storefront", "storefront", "Browsing the shop: pages, search, product images.", ["site_performance"]),
    ("Checkout and payments", "checkout-payments", "Basket, checkout and card payments.", ["payment"]),
    ("Accounts and authentication", "accounts-authentication", "Signing in, sign-up and passwords.", ["authentication"]),
    ("Orders", "orders", "Order history, tracking and returns.", ["orders"]),
    ("Database-backed services", "database-services", "Everything that reads or saves your data.", ["database"]),
]


def seed(apps, schema_editor):
    Component = apps.get_model("incidents", "Component")
    for position, (name, slug, description, categories) in enumerate(COMPONENTS):
        Component.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "description": description, "position": position, "ticket_categories": categories},
        )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
