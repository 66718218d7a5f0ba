"""A signed-in user's groups and permissions: read together once, and the same answers as before."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from accounts import permissions

pytestmark = pytest.mark.django_db


class TestUserAccess:
    def test_groups_and_permissions_are_read_in_one_query(self, agent, django_assert_num_queries):
        user = User.objects.get(pk=agent.pk)
        with django_assert_num_queries(1):
            assert permissions.is_agent(user)
            assert permissions.agent_tier(user) == 1
            assert user.has_perm("tickets.work_ticket")
            assert not user.has_perm("auth.delete_user")

    def test_a_permission_given_directly_counts_with_those_of_the_groups(self, customer):
        customer.user_permissions.add(Permission.objects.get(codename="view_article"))
        user = User.objects.get(pk=customer.pk)
        assert user.has_perm("knowledge.view_article")
        assert user.get_user_permissions() == {"knowledge.view_article"}
        assert "knowledge.view_article" in user.get_all_permissions()
        assert not permissions.is_agent(user)

    def test_a_superuser_still_has_every_permission(self, admin_user):
        admin_user.is_superuser = True
        admin_user.save()
        user = User.objects.get(pk=admin_user.pk)
        assert user.has_perm("auth.delete_user")
        assert len(user.get_all_permissions()) == Permission.objects.count()
