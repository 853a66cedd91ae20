"""Production settings behind a TLS proxy: the login page is served over https with a
Content-Security-Policy without unsafe-inline and the other hardening headers (issue 13,
acceptance 2)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.foundation.test_settings import NOT_DEBUG, load_settings

pytestmark = pytest.mark.django_db

HARDENING = [
    "DEBUG",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "X_FRAME_OPTIONS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "CONTENT_SECURITY_POLICY",
    "PERMISSIONS_POLICY",
]


@pytest.fixture
def production(monkeypatch, settings):
    """The settings module's own values with DEBUG off behind a proxy, applied to the app."""
    env = {**NOT_DEBUG, "SECURE_PROXY_SSL_HEADER": "1", "ALLOWED_HOSTS": "pies.example.com"}
    loaded = load_settings(monkeypatch, **env)
    for name in HARDENING:
        setattr(settings, name, loaded[name])
    settings.ALLOWED_HOSTS = loaded["ALLOWED_HOSTS"]
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


def test_the_login_page_behind_a_tls_proxy_sends_every_hardening_header(production):
    client = Client(HTTP_HOST="pies.example.com")
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in str(response.cookies["csrftoken"])


def test_plain_http_through_the_proxy_is_sent_to_https(production):
    response = Client(HTTP_HOST="pies.example.com").get(
        "/accounts/login/", HTTP_X_FORWARDED_PROTO="http"
    )
    assert response.status_code == 301
    assert response["Location"] == "https://pies.example.com/accounts/login/"


@pytest.mark.parametrize("path", ["/api/v1/accounts/", "/api/docs/", "/admin/login/"])
def test_the_api_the_docs_and_the_admin_carry_the_policy_too(client, path):
    response = client.get(path)
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_no_template_has_an_inline_style_or_script():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [*root.glob("templates/**/*.html"), *root.glob("*/admin/*.py")]:
        if "email" in path.parts:
            continue  # mail is read in a mail client, not served under the CSP: inline is how mail styles
        text = path.read_text()
        if re.search(r"\sstyle=|<style|<script>|<script\s(?![^>]*\bsrc=)|\son[a-z]+=", text):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
