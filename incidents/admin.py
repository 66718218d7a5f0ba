"""The agent console's incident pages.

The post-incident reviews' pages live in their own module, registered when this one is imported.
"""

from . import review_admin  # noqa: F401
