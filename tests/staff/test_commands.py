from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from trading.ops import OPERATIONS_GROUP, OPERATIONS_PERMISSIONS

pytestmark = pytest.mark.django_db


def test_the_migrations_create_the_operations_group_with_its_permissions():
    group = Group.objects.get(name=OPERATIONS_GROUP)
    granted = set(group.permissions.values_list("content_type__app_label", "codename"))
    wanted = {(app, code) for app, codes in OPERATIONS_PERMISSIONS.items() for code in codes}
    assert granted == wanted


def test_the_operations_group_may_not_touch_history():
    codenames = set(
        Group.objects.get(name=OPERATIONS_GROUP).permissions.values_list("codename", flat=True)
    )
    for model in ("ledgerentry", "lot", "disposal", "order", "blockorder", "fill", "windowaccount"):
        assert f"view_{model}" in codenames
        for verb in ("add", "change", "delete"):
            assert f"{verb}_{model}" not in codenames


def test_createstaff_makes_a_staff_user_in_the_operations_group(monkeypatch, capsys):
    monkeypatch.setenv("PIES_STAFF_PASSWORD", "a long staff password 42")
    call_command("createstaff", "olga", "--email", "olga@example.com", "--noinput")
    user = get_user_model().objects.get(username="olga")
    assert user.is_staff and not user.is_superuser
    assert user.check_password("a long staff password 42")
    assert user.groups.filter(name=OPERATIONS_GROUP).exists()
    assert user.has_perm("trading.change_tradewindow")
    assert not user.has_perm("trading.change_ledgerentry")
    assert "Created staff user 'olga'" in capsys.readouterr().out


def test_createstaff_promotes_an_existing_user_without_touching_the_password(alice):
    call_command("createstaff", "alice", "--noinput")
    alice.refresh_from_db()
    assert alice.is_staff
    assert alice.check_password("correct horse battery")
    assert alice.groups.filter(name=OPERATIONS_GROUP).exists()


def test_createstaff_without_a_password_and_without_a_prompt_fails_clearly(monkeypatch):
    monkeypatch.delenv("PIES_STAFF_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="PIES_STAFF_PASSWORD"):
        call_command("createstaff", "nopass", "--noinput")
    assert not get_user_model().objects.filter(username="nopass").exists()


def test_createstaff_refuses_a_weak_password(monkeypatch):
    monkeypatch.setenv("PIES_STAFF_PASSWORD", "123")
    with pytest.raises(CommandError):
        call_command("createstaff", "weak", "--noinput")
    assert not get_user_model().objects.filter(username="weak").exists()


def test_welcome_prints_the_url_the_logins_and_how_to_run_a_window(capsys):
    call_command("welcome")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/" in out
    assert "alice" in out and "pies-demo-123" in out
    assert "ops" in out and "admin" in out
    assert ".venv/bin/python manage.py run_trade_window" in out
