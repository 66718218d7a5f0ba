import pytest

from escalation import selectors as sla_selectors


@pytest.fixture(autouse=True)
def _fresh_policy_book():
    sla_selectors.policy_book_forget()
    yield
    sla_selectors.policy_book_forget()
