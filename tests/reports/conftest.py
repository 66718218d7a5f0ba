import pytest

from escalation import selectors as sla_selectors
from tests.tickets.factories import make_user


@pytest.fixture(autouse=True)
def _fresh_policy_book():
    sla_selectors.policy_book_forget()
    yield
    sla_selectors.policy_book_forget()


@pytest.fixture
def agent(db):
    """The reports' stories follow tickets through every tier: their agent works Tier 3 (queue scoping)."""
    return make_user("tier3@sofacoverpro.com", "agent", tier=3, first_name="Tina")
