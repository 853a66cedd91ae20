"""django-axes locks out a username at one client address; the address comes from
``PIES_TRUSTED_PROXIES`` trusted proxies, so a forged X-Forwarded-For neither dodges the
lockout nor lets one attacker lock out someone else."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from pieproject.clientip import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests/conftest.py's make_user
PROXY = "172.16.0.1"
ATTACKER = "203.0.113.9"
VICTIM = "198.51.100.7"


def log_in(username: str, password: str, *, remote: str, forwarded: str | None = None) -> int:
    """The status of one web login; a fresh client each time, like a new connection."""
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    response = Client().post(
        reverse("login"), {"username": username, "password": password}, **extra
    )
    return response.status_code


def token(username: str, password: str, *, remote: str, forwarded: str | None = None) -> int:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    response = Client().post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )
    return response.status_code


def fail_until_locked(
    settings, username: str, *, remote: str, forged: bool, real: str = ""
) -> None:
    """Wrong passwords, each with a different forged X-Forwarded-For prefix."""
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        forwarded = f"10.9.{attempt}.1" if forged else None
        if real:
            forwarded = f"{forwarded}, {real}" if forwarded else real
        locked = attempt == settings.AXES_FAILURE_LIMIT - 1  # the last failure locks
        assert log_in(username, "wrong", remote=remote, forwarded=forwarded) == (
            429 if locked else 200
        )


# --- no proxy (the default): the header is ignored -------------------------------------------


def test_a_forged_forwarded_for_does_not_dodge_the_lockout_without_a_proxy(settings, alice):
    settings.PIES_TRUSTED_PROXIES = 0
    fail_until_locked(settings, "alice", remote=ATTACKER, forged=True)

    # Even the right password, with yet another forged address, is locked out here.
    assert log_in("alice", PASSWORD, remote=ATTACKER, forwarded="192.0.2.77") == 429
    assert token("alice", PASSWORD, remote=ATTACKER, forwarded="192.0.2.78") == 429
    # Alice, from her own address, is not.
    assert log_in("alice", PASSWORD, remote=VICTIM) == 302


# --- behind one trusted proxy: everybody's REMOTE_ADDR is the proxy --------------------------


def test_behind_a_proxy_one_attacker_cannot_lock_out_another_address(settings, alice, bob):
    settings.PIES_TRUSTED_PROXIES = 1
    fail_until_locked(settings, "alice", remote=PROXY, forged=True, real=ATTACKER)

    assert log_in("alice", PASSWORD, remote=PROXY, forwarded=ATTACKER) == 429
    assert log_in("alice", PASSWORD, remote=PROXY, forwarded=f"1.2.3.4, {ATTACKER}") == 429
    assert token("alice", PASSWORD, remote=PROXY, forwarded=f"5.6.7.8, {ATTACKER}") == 429
    # The victim shares the proxy's REMOTE_ADDR but not the client address the proxy saw.
    assert log_in("alice", PASSWORD, remote=PROXY, forwarded=VICTIM) == 302
    assert token("alice", PASSWORD, remote=PROXY, forwarded=VICTIM) == 200
    # Another user at the attacker's own address is not locked either: username + address.
    assert log_in("bob", PASSWORD, remote=PROXY, forwarded=ATTACKER) == 302


def test_behind_a_proxy_forging_the_victims_address_locks_only_the_attacker(settings, alice):
    settings.PIES_TRUSTED_PROXIES = 1
    # The attacker writes the victim's address into the header; the proxy appends the real one.
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in("alice", "wrong", remote=PROXY, forwarded=f"{VICTIM}, {ATTACKER}")

    assert log_in("alice", PASSWORD, remote=PROXY, forwarded=VICTIM) == 302
    assert log_in("alice", PASSWORD, remote=PROXY, forwarded=ATTACKER) == 429


# --- the address itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trusted, remote, forwarded, expected",
    [
        (0, "10.0.0.1", None, "10.0.0.1"),
        (0, "10.0.0.1", "1.1.1.1", "10.0.0.1"),  # no proxy: the header is anyone's
        (1, PROXY, "1.1.1.1", "1.1.1.1"),
        (1, PROXY, "6.6.6.6, 1.1.1.1", "1.1.1.1"),  # the client's own entry is to the left
        (1, PROXY, "6.6.6.6,1.1.1.1", "1.1.1.1"),
        (2, "172.16.0.2", "6.6.6.6, 1.1.1.1, 172.16.0.1", "1.1.1.1"),
        (1, PROXY, None, PROXY),  # not through the proxy: nothing to believe
        (2, PROXY, "1.1.1.1", PROXY),  # fewer hops than proxies
        (1, PROXY, "not-an-address", PROXY),
        (1, PROXY, "2001:db8::1", "2001:db8::1"),
        (1, PROXY, " , ", PROXY),
    ],
)
def test_the_client_address_is_the_one_the_outermost_trusted_proxy_saw(
    settings, trusted, remote, forwarded, expected
):
    settings.PIES_TRUSTED_PROXIES = trusted
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(RequestFactory().get("/", **extra)) == expected


def test_axes_uses_this_address(settings):
    from axes.helpers import get_client_ip_address

    settings.PIES_TRUSTED_PROXIES = 1
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert get_client_ip_address(request) == "1.1.1.1"
