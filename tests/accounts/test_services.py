"""Desk users: created in their role, one account per address."""

import pytest

from accounts import services

pytestmark = pytest.mark.django_db


class TestUserCreate:
    def test_agents_are_staff_in_their_tier_group(self):
        from accounts import permissions

        user = services.user_create(email="T2@Example.com", password="x" * 12, role="agent", tier=2)
        assert user.username == "t2@example.com"
        assert user.is_staff
        assert permissions.is_agent(user)
        assert permissions.agent_tier(user) == 2

    def test_refuses_a_taken_address(self, customer):
        with pytest.raises(services.UserExists):
            services.user_create(email="ALICE@example.com", password="x" * 12, role="customer")
