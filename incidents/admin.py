"""The console's incident pages."""

from . import status_admin  # noqa: F401
