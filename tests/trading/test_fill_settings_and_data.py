"""The fill model's settings (validated at start) and its data migration (0006)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F

from pieproject.env import ConfigError, env_int
from tests.trading.engine_helpers import add_cash, build_account, intent
from trading.books import verify_books
from trading.models import Account, AccountKind, BlockOrder, Intent, LedgerEntry, Order
from trading.window import open_adhoc_window, run_window

MIGRATION = importlib.import_module("trading.migrations.0006_fill_model")


def settings_with(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import pieproject.settings as s; print(s.PIES_BROKER_SLIPPAGE_BP, s.PIES_MAX_SLIPPAGE_BP)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_env_int_refuses_a_value_above_its_maximum(monkeypatch):
    monkeypatch.setenv("PIES_TEST_INT", "5001")
    with pytest.raises(ConfigError, match="PIES_TEST_INT='5001' must be at most 5000"):
        env_int("PIES_TEST_INT", 0, minimum=-5000, maximum=5000)
    monkeypatch.setenv("PIES_TEST_INT", "-5000")
    assert env_int("PIES_TEST_INT", 0, minimum=-5000, maximum=5000) == -5000


def test_broker_slippage_is_signed_and_the_accepted_slippage_is_not():
    accepted = settings_with(PIES_BROKER_SLIPPAGE_BP="-40", PIES_MAX_SLIPPAGE_BP="50")
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.split() == ["-40", "50"]
    assert settings_with().stdout.split() == ["0", "0"]
    for env, message in [
        ({"PIES_BROKER_SLIPPAGE_BP": "6000"}, "must be at most 5000"),
        ({"PIES_BROKER_SLIPPAGE_BP": "-6000"}, "must be at least -5000"),
        ({"PIES_MAX_SLIPPAGE_BP": "-1"}, "PIES_MAX_SLIPPAGE_BP='-1' must be at least 0"),
        ({"PIES_MAX_SLIPPAGE_BP": "ten"}, "is not an integer"),
    ]:
        refused = settings_with(**env)
        assert refused.returncode != 0 and message in refused.stderr, (env, refused.stderr)


def test_the_migration_fills_amount_paid_for_past_withdrawals_from_their_ledger(alice):
    account, _ = build_account(alice, {"slices": [{"name": "AAA", "target_percent": "100"}]})
    add_cash(account, "100.00")
    external = Account.system(AccountKind.EXTERNAL)
    paid = intent(account, "withdrawal", "60.00", status="done")
    for owner, amount in ((account, Decimal("-59.99")), (external, Decimal("59.99"))):
        LedgerEntry.objects.create(
            account=owner, amount=amount, kind="withdrawal", reference="old", intent=paid
        )
        Account.objects.filter(pk=owner.pk).update(cash=F("cash") + amount)
    nothing = intent(account, "withdrawal", withdraw_all=True, status="done")
    pending = intent(account, "withdrawal", "10.00")
    deposit = intent(account, "deposit", "10.00", status="done")

    with connection.cursor() as cursor:
        cursor.execute(MIGRATION.AMOUNTS_PAID)

    found = dict(Intent.objects.values_list("pk", "amount_paid"))
    assert found[paid.pk] == Decimal("59.99")  # what its ledger entries paid out
    assert found[nothing.pk] == Decimal("0.00")
    assert found[pending.pk] is None and found[deposit.pk] is None
    assert verify_books() == []


def test_the_migration_gives_earlier_blocks_their_buy_amounts(alice, bob, settings):
    settings.PIES_AUTO_INVEST_TRIGGER = Decimal("0")
    buyer, _ = build_account(alice, {"slices": [{"name": "VTI", "target_percent": "100"}]})
    seller, _ = build_account(
        bob, {"slices": [{"name": "VTI", "target_percent": "100", "value": "1000"}]}
    )
    intent(buyer, "deposit", "300.00")
    intent(seller, "withdrawal", "200.00")
    window = open_adhoc_window()
    run_window(window.pk)
    BlockOrder.objects.filter(window=window).update(buy_amount=0)

    with connection.cursor() as cursor:
        cursor.execute(MIGRATION.BLOCK_BUY_AMOUNTS)

    block = BlockOrder.objects.get(window=window)
    buys = Order.objects.filter(window=window, side="buy")
    assert block.buy_amount == sum(o.amount for o in buys) == Decimal("300.00")
    assert verify_books() == []
