"""A window applies once: run twice, run by two threads at once, or crashed after any chunk
and run again, the books end the same as after one clean run."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from tests.trading.engine_helpers import build_account, intent, plain_user
from trading.books import verify_books
from trading.models import Account, Disposal, Intent, LedgerEntry, Lot, Position, TradeWindow
from trading.window import WindowFault, open_adhoc_window, run_window


def six_accounts(make_user: Any, prefix: str) -> list[Account]:
    """Deposits, a withdrawal, rebalances, a removal: buys and sells in every chunk."""
    pie = {
        "slices": [
            {"name": "AAA", "target_percent": "40", "value": "400"},
            {
                "name": "Sub",
                "target_percent": "60",
                "slices": [
                    {"name": "BBB", "target_percent": "50", "value": "200"},
                    {"name": "CCC", "target_percent": "50", "value": "450"},
                    {"name": "OLD", "target_percent": "0", "value": "100"},
                ],
            },
        ]
    }
    accounts = []
    for n in range(6):
        account, leaves = build_account(plain_user(f"{prefix}{n}"), pie)
        root = account.pies.get(is_root=True)
        if n % 3 == 0:
            intent(account, "deposit", f"{100 + n}.25")
        if n % 3 == 1:
            intent(account, "withdrawal", f"{300 + n}.10")
        if n % 2 == 0:
            intent(account, "rebalance", pie=root)
        if n == 5:
            intent(account, "removal", slice=leaves["Sub/OLD"])
        accounts.append(account)
    return accounts


def snapshot(account: Account) -> dict[str, Any]:
    account.refresh_from_db()
    return {
        "cash": account.cash,
        "positions": sorted(
            (p.security.symbol, p.quantity)
            for p in Position.objects.filter(account=account).select_related("security")
        ),
        "lots": sorted(
            (
                lot.position.security.symbol,
                lot.quantity,
                lot.remaining_quantity,
                lot.cost_basis,
                lot.remaining_cost,
            )
            for lot in Lot.objects.filter(position__account=account).select_related(
                "position__security"
            )
        ),
        "disposals": sorted(
            (d.security.symbol, d.quantity, d.proceeds, d.cost_basis)
            for d in Disposal.objects.filter(account=account).select_related("security")
        ),
        "ledger": sorted((e.kind, e.amount) for e in LedgerEntry.objects.filter(account=account)),
        "intents": sorted(i.status for i in Intent.objects.filter(account=account)),
    }


def test_running_a_window_twice_applies_it_once(make_user):
    accounts = six_accounts(make_user, "twice")
    window = open_adhoc_window()

    first = run_window(window.pk)
    entries = LedgerEntry.objects.count()
    before = [snapshot(a) for a in accounts]
    second = run_window(window.pk)

    assert second == first
    assert LedgerEntry.objects.count() == entries
    assert [snapshot(a) for a in accounts] == before
    assert TradeWindow.objects.get(pk=window.pk).attempts == 1
    assert verify_books() == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_apply_a_window_once(make_user):
    accounts = six_accounts(make_user, "race")
    window = open_adhoc_window()
    barrier = threading.Barrier(2)
    reports: list[dict] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(run_window(window.pk, chunk_size=2))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    window.refresh_from_db()
    assert window.status == "done"
    assert window.attempts == 1
    deposits = LedgerEntry.objects.filter(kind="deposit", intent__isnull=False)
    assert deposits.count() == 2 * 2  # two deposit intents, each an entry and its counter
    assert all(i.status in ("done", "failed") for i in Intent.objects.filter(account__in=accounts))
    assert verify_books() == []


def crash_and_resume(make_user: Any, fail_after: int) -> None:
    faulty = six_accounts(make_user, "faulty")
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, chunk_size=2, fail_after_chunk=fail_after)
    window.refresh_from_db()
    assert window.status == "failed"
    assert "WindowFault" in window.error
    assert verify_books() == []  # each chunk commits whole: the books hold between chunks
    if fail_after < 6:  # the last post chunk marks the last intents done
        assert Intent.objects.filter(account__in=faulty, status="pending").exists()

    run_window(window.pk)  # the retry resumes where the crash left off
    window.refresh_from_db()
    assert window.status == "done"
    assert window.attempts == 2
    resumed = [snapshot(a) for a in faulty]

    clean = six_accounts(make_user, "clean")
    run_window(open_adhoc_window().pk, chunk_size=2)
    assert resumed == [snapshot(a) for a in clean]
    assert verify_books() == []


def test_a_window_that_crashes_after_a_chunk_resumes_to_the_same_books(make_user):
    crash_and_resume(make_user, fail_after=4)  # 3 plan chunks, then the first post chunk


@pytest.mark.faults
@pytest.mark.parametrize("fail_after", [1, 2, 3, 5, 6])
def test_a_crash_after_any_chunk_resumes_to_the_same_books(make_user, fail_after):
    crash_and_resume(make_user, fail_after)


def test_a_failed_window_keeps_its_intents_pending_until_the_retry(alice, settings):
    settings.PIES_AUTO_INVEST_TRIGGER = Decimal("0")
    account, _ = build_account(alice, {"slices": [{"name": "AAA", "target_percent": "100"}]})
    deposit = intent(account, "deposit", "10.00")
    window = open_adhoc_window()

    class Broken(Exception):
        pass

    class Refuses:
        def sell(self, orders):
            raise Broken("the broker is down")

        buy = sell

    with pytest.raises(Broken):
        run_window(window.pk, broker=Refuses())  # type: ignore[arg-type]
    window.refresh_from_db()
    deposit.refresh_from_db()
    assert (window.status, window.error) == ("failed", "Broken: the broker is down")
    assert deposit.status == "done"  # credited in plan, committed with its chunk
    account.refresh_from_db()
    assert account.cash == Decimal("10.00")

    run_window(window.pk)
    account.refresh_from_db()
    assert account.cash == Decimal("0.00")
    assert Position.objects.get(account=account).quantity == 1
    assert verify_books() == []
