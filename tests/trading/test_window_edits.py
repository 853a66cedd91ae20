"""Edits against a running window (product.md, "While a window runs for an account"): refused
with a clear message (409 in the API, the editor keeps what was typed), deposits accepted and
waiting, settings saved; the decision taken under a lock the window's freeze respects."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from pies.models import Pie, Slice
from pies.services import save_pie_tree
from tests.api.conftest import client_for
from tests.trading.engine_helpers import build_account, intent, plain_user, security
from trading.books import verify_books
from trading.brokers import Execution, NetBuy, NetSell, SimulatedBroker
from trading.models import Account, Intent, Order, Position, TradeWindow
from trading.ownership import FAILED_MESSAGE, RUNNING_MESSAGE, AccountInWindow
from trading.services import request_deposit
from trading.window import open_adhoc_window, run_window


class DuringTheWindow(SimulatedBroker):
    """Runs ``act`` while the window executes (frozen and planned, nothing posted yet)."""

    def __init__(self, act: Callable[[], Any]) -> None:
        super().__init__(slippage_bp=0)
        self.act = act
        self.results: list[Any] = []

    def _once(self) -> None:
        if not self.results:
            self.results.append(self.act())

    def sell(self, orders: Sequence[NetSell]) -> list[Execution]:
        self._once()
        return super().sell(orders)

    def buy(self, orders: Sequence[NetBuy]) -> list[Execution]:
        self._once()
        return super().buy(orders)


class BrokerDown(Exception):
    pass


class Refuses(SimulatedBroker):
    def sell(self, orders: Sequence[NetSell]) -> list[Execution]:
        raise BrokerDown("the broker is down")

    def buy(self, orders: Sequence[NetBuy]) -> list[Execution]:
        raise BrokerDown("the broker is down")


def pie_url(account: Account) -> str:
    return f"/api/v1/accounts/{account.pk}/pie/"


def version(account: Account) -> int:
    return Pie.objects.get(account=account, is_root=True).version


def tree(**targets: str) -> dict[str, Any]:
    return {
        "name": "Portfolio",
        "slices": [
            {"target_percent": target, "symbol": symbol} for symbol, target in targets.items()
        ],
    }


def slice_of(account: Account, symbol: str) -> Slice:
    return Slice.objects.get(pie__account=account, security__symbol=symbol)


# --- problem 2: a save during a running window ----------------------------------------------


def test_a_pie_save_during_the_window_is_refused_and_post_books_the_planned_buy(alice):
    account, _ = build_account(alice, {"slices": []})
    security("AAA"), security("BBB")
    save_pie_tree(account=account, tree=tree(AAA="50", BBB="50"), version=1)
    request_deposit(account=account, amount="1000.00")
    api = client_for(alice)
    drop_bbb = {**tree(AAA="100"), "version": version(account)}
    broker = DuringTheWindow(lambda: api.put(pie_url(account), drop_bbb, format="json"))

    run_window(open_adhoc_window().pk, broker=broker)

    [answer] = broker.results
    assert answer.status_code == 409
    assert answer.json() == {"detail": RUNNING_MESSAGE}
    bbb = slice_of(account, "BBB")
    assert bbb.status == "active"
    assert Position.objects.get(slice=bbb).quantity == Decimal("50")
    assert verify_books() == []
    # After the window the same save is taken: BBB now holds shares, so it is sold next.
    assert api.put(pie_url(account), drop_bbb, format="json").status_code == 200
    assert slice_of(account, "BBB").status == "removing"
    assert verify_books() == []


def test_re_adding_a_removing_security_during_the_window_is_refused_and_the_removal_finishes(
    alice,
):
    account, leaves = build_account(
        alice,
        {
            "slices": [
                {"name": "AAA", "target_percent": "100", "value": "100"},
                {"name": "XXX", "target_percent": "0", "value": "300"},
            ]
        },
        auto_invest=False,
    )
    removal = intent(account, "removal", slice=leaves["XXX"])
    api = client_for(alice)
    keep_xxx = {**tree(AAA="50", XXX="50"), "version": version(account)}
    broker = DuringTheWindow(lambda: api.put(pie_url(account), keep_xxx, format="json"))

    run_window(open_adhoc_window().pk, broker=broker)

    assert broker.results[0].status_code == 409
    removal.refresh_from_db()
    assert removal.status == "done"
    xxx = Slice.objects.get(pk=leaves["XXX"].pk)
    assert xxx.status == "removed"
    assert Position.objects.get(slice=leaves["AAA"]).quantity == Decimal("40")
    assert verify_books() == []


def test_post_refuses_to_book_onto_a_slice_that_left_the_pie(alice):
    """Belt and braces under the lock: a slice removed behind the services' back."""
    from trading.window.post import OffPieOrder

    account, leaves = build_account(alice, {"slices": [{"name": "AAA", "target_percent": "100"}]})
    intent(account, "deposit", "100.00")
    window = open_adhoc_window()

    def remove_it() -> None:
        Slice.objects.filter(pk=leaves["AAA"].pk).update(status="removed", target_bp=0)

    with pytest.raises(OffPieOrder):
        run_window(window.pk, broker=DuringTheWindow(remove_it))
    assert Position.objects.get(slice=leaves["AAA"]).quantity == 0
    assert TradeWindow.objects.get(pk=window.pk).status == "failed"
    assert verify_books() == []  # executed, nothing posted: the clearing account holds it all


# --- what is refused, what is accepted, while a window owns the account ----------------------


@pytest.fixture
def failed_window_account(alice) -> tuple[Account, TradeWindow, Intent]:
    account, _ = build_account(
        alice, {"slices": [{"name": "AAA", "target_percent": "100", "value": "1000"}]}
    )
    taken = intent(account, "withdrawal", "100.00")
    window = open_adhoc_window()
    with pytest.raises(BrokerDown):
        run_window(window.pk, broker=Refuses())
    return account, window, taken


def test_the_api_answers_409_while_a_failed_window_owns_the_account(alice, failed_window_account):
    account, window, taken = failed_window_account
    api = client_for(alice)
    base = f"/api/v1/accounts/{account.pk}"
    pie = {**tree(AAA="100"), "version": version(account)}
    exported = api.get(f"{base}/pie/export/").json()

    refused = {
        "save": api.put(f"{base}/pie/", pie, format="json"),
        "import": api.post(
            f"{base}/pie/import/", {**exported, "version": version(account)}, format="json"
        ),
        "withdrawal": api.post(f"{base}/withdrawals/", {"amount": "10.00"}, format="json"),
        "rebalance": api.post(f"{base}/rebalance/", {}, format="json"),
        "cancel taken": api.delete(f"{base}/intents/{taken.pk}/"),
    }
    for name, answer in refused.items():
        assert (name, answer.status_code, answer.json()) == (
            name,
            409,
            {"detail": FAILED_MESSAGE},
        )
    deposit = api.post(f"{base}/deposits/", {"amount": "25.00"}, format="json")
    assert deposit.status_code == 201
    spare = api.post(f"{base}/deposits/", {"amount": "7.00"}, format="json").json()
    assert api.delete(f"{base}/intents/{spare['id']}/").status_code == 204
    settings = api.patch(f"{base}/", {"auto_invest": False}, format="json")
    assert (settings.status_code, settings.json()["auto_invest"]) == (200, False)
    assert Intent.objects.filter(account=account, kind="withdrawal").count() == 1
    assert Intent.objects.filter(account=account, kind="rebalance").count() == 0

    run_window(window.pk)  # retried: the deposit made meanwhile waits for the next window
    new = Intent.objects.get(pk=deposit.json()["id"])
    assert (new.status, new.window_id) == ("pending", None)
    assert (
        api.put(f"{base}/pie/", {**pie, "version": version(account)}, format="json").status_code
        == 200
    )
    assert verify_books() == []


def test_the_editor_keeps_what_was_typed_when_a_window_owns_the_account(
    alice, failed_window_account
):
    from tests.web.test_access import editor_post

    account, _, _ = failed_window_account
    client = Client()
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    url = f"/account/{account.pk}/pie/edit/"
    editor = client.get(url).context["editor"]
    before = list(Slice.objects.filter(pie__account=account).values_list("id", "target_bp"))
    typed = editor_post(editor, name="Typed while the window ran")

    response = client.post(url, {**typed, "op": "save"})

    page = response.content.decode()
    assert response.status_code == 409
    assert FAILED_MESSAGE in page
    assert 'value="Typed while the window ran"' in page
    assert list(Slice.objects.filter(pie__account=account).values_list("id", "target_bp")) == (
        before
    )

    withdraw = client.post(
        f"/account/{account.pk}/withdraw/",
        {"amount": "12.34", "idempotency_key": "k-1"},
    )
    assert withdraw.status_code == 409
    assert FAILED_MESSAGE in withdraw.content.decode()
    assert 'value="12.34"' in withdraw.content.decode()
    rebalance = client.post(f"/account/{account.pk}/rebalance/", {"idempotency_key": "k-2"})
    assert rebalance.status_code == 409
    assert FAILED_MESSAGE in rebalance.content.decode()
    assert verify_books() == []


# --- the lock: no race between the check and the write (real threads) ------------------------


def advisory_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND wait_event = 'advisory' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


class Pause:
    """An execute_wrapper that stops its thread at the first statement matching ``match``
    (before it runs, or after with ``after=True``) until ``go`` is set."""

    def __init__(self, match: Callable[[str], bool], *, after: bool = False) -> None:
        self.match, self.after = match, after
        self.reached, self.go = threading.Event(), threading.Event()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        hit = not self.reached.is_set() and self.match(sql)
        if hit and not self.after:
            self.reached.set()
            self.go.wait(30)
        result = execute(sql, params, many, context)
        if hit and self.after:
            self.reached.set()
            self.go.wait(30)
        return result


def in_thread(
    target: Callable[[], Any], outcome: dict[str, Any], wrappers: list[Pause]
) -> threading.Thread:
    def run() -> None:
        try:
            with _wrapped(wrappers):
                outcome["result"] = target()
        except BaseException as exc:  # reported by the assertions
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wrapped(wrappers: list[Pause]) -> ExitStack:
    stack = ExitStack()
    for wrapper in wrappers:
        stack.enter_context(connection.execute_wrapper(wrapper))
    return stack


def race_account() -> Account:
    account, _ = build_account(
        plain_user("racer"), {"slices": [{"name": "AAA", "target_percent": "100"}]}
    )
    security("BBB")
    intent(account, "deposit", "1000.00")
    return account


@pytest.mark.django_db(transaction=True)
def test_an_edit_that_passed_its_check_holds_the_freeze_until_it_commits():
    account = race_account()
    window = open_adhoc_window()
    edit_pause = Pause(lambda sql: sql.startswith('UPDATE "pies_pie"') and '"version"' in sql)
    edit: dict[str, Any] = {}
    run: dict[str, Any] = {}
    editor = in_thread(
        lambda: save_pie_tree(account=account, tree=tree(AAA="50", BBB="50"), version=1),
        edit,
        [edit_pause],
    )
    assert edit_pause.reached.wait(20)  # checked, written, not committed: holds the lock
    runner = in_thread(lambda: run_window(window.pk), run, [])

    assert wait_for(lambda: advisory_waiters() == 1)  # the freeze waits for the edit
    assert not TradeWindow.objects.get(pk=window.pk).progress.get("freeze")
    edit_pause.go.set()
    editor.join(30)
    runner.join(60)

    assert "error" not in edit and "error" not in run
    # The window froze after the save committed, so it planned with the new pie.
    planned = set(Order.objects.filter(window=window).values_list("security__symbol", flat=True))
    assert planned == {"AAA", "BBB"}
    assert verify_books() == []


@pytest.mark.django_db(transaction=True)
def test_an_edit_that_arrives_during_the_freeze_waits_for_it_and_is_refused():
    account = race_account()
    window = open_adhoc_window()
    frozen = Pause(lambda sql: "INSERT INTO trading_windowaccount" in sql, after=True)
    planning = Pause(lambda sql: "root.is_root" in sql)  # the plan's first read
    run: dict[str, Any] = {}
    edit: dict[str, Any] = {}
    runner = in_thread(lambda: run_window(window.pk), run, [frozen, planning])
    assert frozen.reached.wait(20)  # the accounts are chosen, not committed yet

    editor = in_thread(
        lambda: save_pie_tree(account=account, tree=tree(AAA="50", BBB="50"), version=1),
        edit,
        [],
    )
    assert wait_for(lambda: advisory_waiters() == 1)  # the edit waits for the freeze
    frozen.go.set()
    editor.join(30)
    planning.go.set()
    runner.join(60)

    assert isinstance(edit.get("error"), AccountInWindow), edit
    assert edit["error"].message == RUNNING_MESSAGE
    assert "error" not in run
    assert not Slice.objects.filter(pie__account=account, security__symbol="BBB").exists()
    assert TradeWindow.objects.get(pk=window.pk).status == "done"
    assert verify_books() == []


def test_intents_the_window_did_not_take_can_still_be_cancelled(alice, failed_window_account):
    from trading.services import cancel_intent

    account, _, _ = failed_window_account
    later = request_deposit(account=account, amount="40.00").intent
    cancelled = cancel_intent(intent=later)
    assert cancelled.status == "cancelled"
    assert Account.objects.get(pk=account.pk).cash == Decimal("0.00")
    assert verify_books() == []
