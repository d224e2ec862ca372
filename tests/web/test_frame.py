"""Sign-in, the frame, and scoping of every page to the user's accounts and role."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from loyalty.accounts.scopes import Role

pytestmark = pytest.mark.django_db

PAGES = [
    "web:dashboard",
    "web:receipts",
    "web:customers",
    "web:segments",
    "web:segment-new",
    "web:rules",
    "web:rule-new",
]


def test_signing_in_with_the_staff_login_lands_on_the_first_accounts_dashboard(account, login):
    # given a staff user with a password
    from tests.accounts.factories import MembershipFactory, UserFactory

    user = UserFactory(username="sam")
    MembershipFactory(user=user, account=account, role=Role.EDITOR)
    client = Client()
    # when they sign in and open the site root
    response = client.post(reverse("web:login"), {"username": "sam", "password": "correct horse battery staple"})
    home = client.get(reverse("web:home"))
    # then they land on the dashboard of their account
    assert response.status_code == 302
    assert home.status_code == 302 and home["Location"] == reverse("web:dashboard", kwargs={"aid": account.aid})


def test_a_wrong_password_shows_the_form_again_with_an_error(account):
    response = Client().post(reverse("web:login"), {"username": "nobody", "password": "x"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.parametrize("name", PAGES)
def test_pages_need_a_signed_in_user(account, name):
    response = Client().get(reverse(name, kwargs={"aid": account.aid}))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))


@pytest.mark.parametrize("name", PAGES)
def test_a_non_member_gets_404_for_every_page_of_the_account(account, other_account, login, name):
    # given a user who is a member of another account only
    client = login(other_account)
    # when they open a page of the first account
    response = client.get(reverse(name, kwargs={"aid": account.aid}))
    # then the account does not exist for them
    assert response.status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_members_see_every_page_with_the_frame(owner, account, name):
    response = owner.get(reverse(name, kwargs={"aid": account.aid}))
    assert response.status_code == 200
    body = response.content.decode()
    for label in ("Dashboard", "Receipts", "Customers", "Segments", "Discount rules", "Sign out", "olga"):
        assert label in body
    assert "Content-Security-Policy" in response.headers
    assert "<script>" not in body and " style=" not in body


def test_the_account_switcher_lists_every_account_of_the_user(account, other_account, login):
    client = login(account, other_account)
    body = client.get(reverse("web:dashboard", kwargs={"aid": account.aid})).content.decode()
    assert 'aria-label="Switch account"' in body
    assert reverse("web:dashboard", kwargs={"aid": other_account.aid}) in body


def test_a_user_of_one_account_sees_no_switcher(owner, account):
    body = owner.get(reverse("web:dashboard", kwargs={"aid": account.aid})).content.decode()
    assert "Switch account" not in body


def test_signing_out_is_a_post_and_ends_the_session(owner, account):
    response = owner.post(reverse("web:logout"))
    assert response.status_code == 302
    assert owner.get(reverse("web:dashboard", kwargs={"aid": account.aid})).status_code == 302


def test_signing_out_revokes_the_users_api_refresh_tokens(account):
    from rest_framework.test import APIClient

    from loyalty.accounts.services import staff_user_upsert

    # given a staff user holding an API refresh token and signed in to the back-office
    user, _ = staff_user_upsert(account=account, username="rita", role="editor", password="s3cret-Pass!")
    api = APIClient()
    issued = api.post("/api/admin/login_check", {"username": "rita", "password": "s3cret-Pass!"}, format="json")
    refresh_token = issued.json()["refresh_token"]
    browser = Client()
    browser.force_login(user)
    # when they sign out of the back-office
    assert browser.post(reverse("web:logout")).status_code == 302
    # then the refresh token issued before is refused
    refused = api.post("/api/token/refresh", {"refresh_token": refresh_token}, format="json")
    assert refused.status_code == 401


def test_a_user_without_accounts_is_told_so(db, login):
    client = login()
    response = client.get(reverse("web:home"), follow=True)
    assert b"No account yet" in response.content


def test_viewers_see_no_change_buttons(viewer, account):
    for name in ("web:segments", "web:rules"):
        body = viewer.get(reverse(name, kwargs={"aid": account.aid})).content.decode()
        assert "New segment" not in body and "New rule" not in body


def test_the_dashboard_shows_the_last_90_days(shop, owner, django_assert_max_num_queries):
    url = reverse("web:dashboard", kwargs={"aid": shop.aid})
    # the daily series is computed once (and stored in the cache), then read from the cache; one query counts last
    # month's buyers for the comparison
    with django_assert_max_num_queries(17):
        owner.get(url)
    with django_assert_max_num_queries(11):
        response = owner.get(url)
    assert response.status_code == 200
    series = response.context["series"]
    assert len(series["labels"]) == 90
    # purchases only: the voided receipt is not revenue
    assert sum(series["receipts"]) == 5
    assert response.context["totals"]["revenue"] == 10000 + 25000 + 5000 + 70000 + 1990


@override_settings(AUTH_THROTTLE_RATE="3/minute")
def test_repeated_sign_in_attempts_are_throttled(account):
    client = Client()
    statuses = [client.post(reverse("web:login"), {"username": "eve", "password": "x"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    last = client.post(reverse("web:login"), {"username": "eve", "password": "x"})
    assert "Too many attempts" in last.content.decode() and 1 <= int(last["Retry-After"]) <= 60


def test_changes_made_in_the_pages_are_audited(shop, owner):
    from loyalty.core.models import AuditEvent

    owner.post(
        reverse("web:segment-new", kwargs={"aid": shop.aid}),
        {"name": "Audited", "parts": '[{"criteria": [{"type": "transaction_count", "min": 1}]}]'},
    )
    event = AuditEvent.objects.get()
    assert (event.account, event.actor, event.action) == (shop, "user:olga", "web:segment-new")


def test_refusals_are_pages_in_words_with_the_stylesheet(account, other_account, login):
    viewer = login(account, role=Role.VIEWER)
    refused = viewer.get(reverse("web:api-clients", kwargs={"aid": account.aid}))
    missing = viewer.get(reverse("web:dashboard", kwargs={"aid": other_account.aid}))

    assert refused.status_code == 403 and "Not for your role" in refused.content.decode()
    assert missing.status_code == 404 and "Nothing here" in missing.content.decode()
    assert all("web/app.css" in page.content.decode() for page in (refused, missing))
