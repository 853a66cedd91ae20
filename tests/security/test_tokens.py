"""API tokens are revoked when the password changes (by the user, by a reset, in the admin)
and when the account is deactivated; nothing else touches them."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests/conftest.py's make_user
NEW_PASSWORD = "a brand new passphrase 42"


def works(api) -> bool:
    return api.get("/api/v1/accounts/").status_code == 200


def test_changing_the_password_revokes_the_users_tokens(client, alice, bob):
    alice_api, bob_api = client_for(alice), client_for(bob)
    assert works(alice_api)
    client.force_login(alice)

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert alice_api.get("/api/v1/accounts/").status_code == 401
    assert not Token.objects.filter(user=alice).exists()
    assert works(bob_api)  # nobody else's


def test_a_password_reset_revokes_the_tokens_an_attacker_holds(client, alice):
    alice.email = "alice@example.com"
    alice.save()
    attacker = client_for(alice)
    assert works(attacker)

    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    link = re.search(r"/accounts/reset/\S+/\S+/", mail.outbox[-1].body)
    assert link, mail.outbox[-1].body
    form = client.get(link.group(0), follow=True)
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_complete")
    assert attacker.get("/api/v1/accounts/").status_code == 401
    assert not Token.objects.filter(user=alice).exists()


def test_a_password_set_in_the_admin_or_by_code_revokes_the_tokens(client, alice, make_user):
    api = client_for(alice)
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:auth_user_password_change", args=[alice.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert api.get("/api/v1/accounts/").status_code == 401

    api = client_for(alice)
    alice.refresh_from_db()
    alice.set_password("yet another passphrase 7")
    alice.save()
    assert api.get("/api/v1/accounts/").status_code == 401


def test_deactivating_a_user_revokes_the_tokens(alice):
    api = client_for(alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])

    assert not Token.objects.filter(user=alice).exists()
    assert api.get("/api/v1/accounts/").status_code == 401


def test_signing_in_or_editing_the_profile_keeps_the_tokens(client, alice):
    api = client_for(alice)
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302  # signed in: last_login saved
    alice.refresh_from_db()
    alice.email = "alice@example.com"
    alice.save()
    alice.is_active = True
    alice.save()

    assert works(api)


def test_a_new_token_after_the_change_works(alice):
    from rest_framework.test import APIClient

    client_for(alice)
    alice.set_password(NEW_PASSWORD)
    alice.save()

    answer = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": NEW_PASSWORD}, format="json"
    )
    assert answer.status_code == 200
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    assert works(fresh)
