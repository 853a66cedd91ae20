"""A missing, short or default SECRET_KEY with DEBUG off stops the app at start, naming the
variable (and never showing the value)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pieproject.env import ConfigError
from tests.foundation.test_settings import NOT_DEBUG, PROD_SECRET, ROOT, load_settings

DEV_SECRET = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"


@pytest.mark.parametrize(
    "value",
    [
        "short-key",
        DEV_SECRET,  # the development default
        "django-insecure-" + "k" * 40 + "0123456789",  # startproject's placeholder kind
        "ab" * 30,  # long, but two characters
    ],
)
def test_a_weak_secret_key_with_debug_off_stops_the_app(monkeypatch, value):
    with pytest.raises(ConfigError) as refused:
        load_settings(monkeypatch, **{**NOT_DEBUG, "SECRET_KEY": value})
    assert "SECRET_KEY" in str(refused.value)
    assert value not in str(refused.value)


def test_a_missing_secret_key_with_debug_off_stops_the_app(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        load_settings(monkeypatch, DEBUG="0", ALLOWED_HOSTS="example.com")


def test_a_strong_key_starts_and_debug_keeps_its_development_key(monkeypatch):
    assert load_settings(monkeypatch, **NOT_DEBUG)["SECRET_KEY"] == PROD_SECRET
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert load_settings(monkeypatch, DEBUG="1")["SECRET_KEY"] == DEV_SECRET


def test_the_wsgi_app_refuses_to_start_with_a_short_key():
    env = {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "example.com", "SECRET_KEY": "short"}
    started = subprocess.run(
        [sys.executable, "-c", "import pieproject.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert "SECRET_KEY must be at least 50 characters" in started.stderr
