"""Accounts services on their own: revoking a staff user's refresh tokens (what signing out does), and the one
personal-data policy."""

from __future__ import annotations

import pytest

from loyalty.accounts.models import RefreshToken
from loyalty.accounts.policy import personal_data_visible
from loyalty.accounts.scopes import Role
from loyalty.accounts.services import staff_login, staff_refresh_tokens_revoke, staff_token_refresh, staff_user_upsert

PASSWORD = "pw-Olga-12345"


@pytest.mark.django_db
class TestRefreshTokensRevoke:
    def test_revokes_every_refresh_token_the_user_holds_and_no_one_elses(self, account):
        olga, _ = staff_user_upsert(account=account, username="olga", role="owner", password=PASSWORD)
        staff_user_upsert(account=account, username="per", role="editor", password=PASSWORD)
        first = staff_login(username="olga", password=PASSWORD)
        second = staff_login(username="olga", password=PASSWORD)
        others = staff_login(username="per", password=PASSWORD)
        assert first and second and others

        assert staff_refresh_tokens_revoke(user=olga) == 2
        assert staff_token_refresh(refresh_token=first.refresh_token) is None
        assert staff_token_refresh(refresh_token=second.refresh_token) is None
        assert staff_token_refresh(refresh_token=others.refresh_token) is not None
        assert staff_refresh_tokens_revoke(user=olga) == 0  # nothing left to revoke
        assert not RefreshToken.objects.filter(user=olga, revoked_at__isnull=True).exists()


class TestPersonalDataPolicy:
    @pytest.mark.parametrize(
        ("role", "visible"), [(Role.OWNER, True), (Role.EDITOR, True), (Role.VIEWER, False), (None, False)]
    )
    def test_owners_and_editors_see_it_viewers_do_not(self, role, visible):
        assert personal_data_visible(role=role) is visible

    def test_superusers_and_api_clients_see_it(self):
        assert personal_data_visible(role=None, is_superuser=True)
        assert personal_data_visible(role=None, api_client=True)


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute_per_client_across_processes(account):
    from datetime import timedelta

    from django.utils import timezone

    from loyalty.accounts.models import ApiClient
    from loyalty.accounts.services import api_client_create, api_client_touch

    client, _ = api_client_create(account=account, name="pos", scopes=["read:receipts"])
    recently = timezone.now() - timedelta(seconds=30)
    ApiClient.objects.filter(pk=client.pk).update(last_used_at=recently)

    # another process (its own memory of writes is empty) leaves a value younger than a minute alone
    api_client_touch(client_id=client.client_id, now=1e9)
    client.refresh_from_db()
    assert client.last_used_at == recently

    a_while_ago = timezone.now() - timedelta(seconds=120)
    ApiClient.objects.filter(pk=client.pk).update(last_used_at=a_while_ago)
    api_client_touch(client_id=client.client_id, now=2e9)
    client.refresh_from_db()
    assert client.last_used_at > a_while_ago
