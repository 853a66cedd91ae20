"""Trade confirmations by email (product.md, Notifications): one email per owner per done
window, none for accounts that turned them off, Celery tasks per batch of owners (never per
account), and a crash between claiming and sending re-sent exactly once by the tick."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from tests.trading.engine_helpers import (
    add_cash,
    build_account,
    intent,
    security,
    statement_counter,
)
from trading.books import verify_books
from trading.models import Account, Confirmation, Dividend, LedgerEntry, TradeWindow
from trading.services import pay_due_dividends
from trading.services.confirmations import (
    claim_confirmations,
    queue_confirmations,
    send_confirmations,
)
from trading.tasks import confirm_window, run_window_task, send_confirmations_task, tick
from trading.window import WindowFault, open_adhoc_window, run_window

ONE = {"slices": [{"name": "VTI", "target_percent": "100", "value": "0"}]}
TWO = {
    "slices": [
        {"name": "VTI", "target_percent": "60", "value": "600"},
        {"name": "BND", "target_percent": "40", "value": "400"},
    ]
}


@pytest.fixture(autouse=True)
def locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def enqueued():
    """The send_confirmations batches that would go to Celery (captured, not sent)."""
    sent: list[list[int]] = []
    with mock.patch(
        "trading.tasks.send_confirmations_task.delay_on_commit", side_effect=sent.append
    ):
        yield sent


def worker(batches: list[list[int]]) -> None:
    """What the Celery worker does with the captured messages."""
    for batch in batches:
        send_confirmations_task(batch)


def run_adhoc() -> TradeWindow:
    window = open_adhoc_window()
    run_window(window.pk)
    assert verify_books() == []
    return TradeWindow.objects.get(pk=window.pk)


def investor(_, name: Any, spec: dict = ONE, *, kind: str = "individual", **settings):
    """An account with ``spec``'s pie for ``name`` (a new user, with an email address and no
    password: hashing one costs more than the window), or for an existing user."""
    user = (
        get_user_model().objects.create(username=name, email=f"{name}@example.com")
        if isinstance(name, str)
        else name
    )
    account, _ = build_account(user, spec, kind=kind, **settings)
    return user, account


def test_each_owner_gets_one_email_per_window_for_all_their_accounts(make_user, enqueued):
    alice, individual = investor(make_user, "alice")
    _, roth = investor(make_user, alice, kind="roth_ira")
    _, bobs = investor(make_user, "bob")
    investor(make_user, "carol")  # nothing to trade: no email
    for account in (individual, roth, bobs):
        intent(account, "deposit", "100.00")

    window = run_adhoc()
    assert confirm_window(window.pk) == 1
    worker(enqueued)

    assert sorted(message.to[0] for message in mail.outbox) == [
        "alice@example.com",
        "bob@example.com",
    ]
    alices = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert "Individual" in alices.body and "Roth IRA" in alices.body
    assert Confirmation.objects.filter(window=window, sent_at__isnull=False).count() == 2

    # The tick, a second close call and a duplicate message send nothing more.
    confirm_window(window.pk)
    tick(now=(timezone.now() + timedelta(minutes=1)).isoformat())
    worker(enqueued)
    assert len(mail.outbox) == 2


def test_the_email_lists_each_order_with_security_side_shares_price_and_amount(make_user, enqueued):
    _, account = investor(make_user, "alice", TWO)
    add_cash(account, "50.00")
    intent(account, "deposit", "1000.00")
    intent(account, "withdrawal", "100.00")
    intent(account, "withdrawal", "5000.00")  # more than the account is worth: fails
    window = run_adhoc()
    confirm_window(window.pk)
    worker(enqueued)

    [message] = mail.outbox
    body = message.body
    assert message.subject == f"Trade confirmation: Ad hoc window of {window.trade_date:%a} " + (
        f"{window.trade_date.day} {window.trade_date:%b %Y}"
    )
    # 1000 + 50 - 100 invested at $10.00: 570 to VTI, 380 to BND (60/40 of 1950).
    assert "Buy VTI: 57.000000 shares at $10.00 = $570.00" in body
    assert "Buy BND: 38.000000 shares at $10.00 = $380.00" in body
    assert "Cash paid for buys: $950.00; cash received from sells: $0.00" in body
    assert "Deposits credited:\n  $1,000.00" in body
    assert "asked $100.00, paid $100.00" in body
    assert "Failed:\n  Withdrawal $5,000.00: The account is worth 1,950.00" in body
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    assert '<td>VTI</td><td>Buy</td><td align="right">57.000000</td>' in html
    assert "$570.00" in html


def test_no_email_for_an_account_that_turned_confirmations_off(make_user, enqueued):
    alice, individual = investor(make_user, "alice", notify=False)
    _, roth = investor(make_user, alice, kind="roth_ira")
    _, bobs = investor(make_user, "bob", notify=False)
    for account in (individual, roth, bobs):
        intent(account, "deposit", "100.00")

    window = run_adhoc()
    confirm_window(window.pk)
    worker(enqueued)

    [message] = mail.outbox  # bob turned it off; alice's Roth IRA only
    assert message.to == ["alice@example.com"]
    assert "Roth IRA" in message.body and "Individual" not in message.body
    assert list(Confirmation.objects.values_list("owner__username", flat=True)) == ["alice"]


def test_confirmations_go_out_in_batches_never_one_task_per_account(make_user, settings, enqueued):
    settings.PIES_CONFIRMATION_BATCH_SIZE = 10
    security("VTI")
    for n in range(23):
        _, account = investor(make_user, f"user{n}")
        intent(account, "deposit", "50.00")
    window = run_adhoc()

    confirm_window(window.pk)

    assert [len(batch) for batch in enqueued] == [10, 10, 3]
    worker(enqueued)
    assert len(mail.outbox) == 23
    assert len({message.to[0] for message in mail.outbox}) == 23


def test_a_batch_costs_a_fixed_number_of_statements_plus_one_per_email(make_user, enqueued):
    for n in range(12):
        _, account = investor(make_user, f"user{n}")
        intent(account, "deposit", "50.00")
    run_adhoc()
    [batch] = queue_confirmations()

    def statements(ids: list[int]) -> int:
        seen, wrapper = statement_counter()
        with connection.execute_wrapper(wrapper):
            send_confirmations(ids)
        return len(seen)

    small, large = statements(batch[:2]), statements(batch[2:])
    assert large - small == 10 - 2  # one "sent" mark per email; the reads do not grow
    assert len(mail.outbox) == 12


def test_only_done_windows_are_confirmed_and_a_retried_one_once(make_user, enqueued):
    _, account = investor(make_user, "alice", TWO)
    intent(account, "deposit", "100.00")
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, fail_after_chunk=1)

    assert confirm_window(window.pk) == 0
    tick(now=timezone.now().isoformat())
    assert enqueued == [] and not Confirmation.objects.exists()

    run_window_task(window.pk)  # the retry finishes it; its close sends the task
    worker(enqueued)
    assert len(mail.outbox) == 1
    assert len(enqueued) == 1


def test_a_crash_between_claiming_and_sending_is_resent_once_after_the_retry_time(
    make_user, settings, enqueued
):
    _, account = investor(make_user, "alice")
    intent(account, "deposit", "100.00")
    window = run_adhoc()
    start = timezone.now()
    [batch] = queue_confirmations(now=start, window_id=window.pk)

    # The worker claims the batch, then dies before sending anything.
    assert claim_confirmations(batch, now=start) == batch
    retry = timedelta(seconds=settings.PIES_CONFIRMATION_RETRY_SECONDS)
    row = Confirmation.objects.get()
    assert (row.claimed_at, row.attempts, row.sent_at) == (start, 1, None)

    # Before the retry time the tick leaves it alone, and the old message claims nothing.
    tick(now=(start + retry - timedelta(seconds=1)).isoformat())
    assert enqueued == []
    assert send_confirmations(batch, now=start + timedelta(seconds=5))["claimed"] == 0
    assert mail.outbox == []

    # After it, the tick queues it once, and it is sent once.
    later = start + retry + timedelta(seconds=1)
    tick(now=later.isoformat())
    tick(now=(later + timedelta(seconds=30)).isoformat())
    assert enqueued == [batch]
    assert send_confirmations(batch, now=later)["sent"] == 1
    assert send_confirmations(batch, now=later + retry * 2)["claimed"] == 0
    tick(now=(later + retry * 3).isoformat())
    assert enqueued == [batch]
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.attempts == 2 and row.sent_at is not None


def test_a_refused_email_is_kept_with_its_error_and_retried_up_to_the_limit(
    make_user, settings, enqueued
):
    settings.PIES_CONFIRMATION_MAX_ATTEMPTS = 2
    _, account = investor(make_user, "alice")
    intent(account, "deposit", "100.00")
    run_adhoc()
    start = timezone.now()
    retry = timedelta(seconds=settings.PIES_CONFIRMATION_RETRY_SECONDS)
    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=ConnectionRefusedError("mail server down"),
    ):
        for attempt in range(3):
            moment = start + (retry + timedelta(seconds=1)) * attempt
            for batch in queue_confirmations(now=moment):
                send_confirmations(batch, now=moment)
    row = Confirmation.objects.get()
    assert row.attempts == 2 and row.sent_at is None
    assert "mail server down" in row.error
    assert mail.outbox == []


def test_a_window_closed_by_a_caller_that_did_not_enqueue_is_swept_by_the_tick(make_user, enqueued):
    _, account = investor(make_user, "alice")
    intent(account, "deposit", "100.00")
    run_adhoc()  # nobody called confirm_window (say Redis was down at the close)

    tick(now=timezone.now().isoformat())
    tick(now=(timezone.now() + timedelta(seconds=40)).isoformat())
    assert len(enqueued) == 1
    worker(enqueued)
    assert len(mail.outbox) == 1


def test_the_command_and_the_worker_task_enqueue_at_the_close(make_user, enqueued):
    _, account = investor(make_user, "alice")
    intent(account, "deposit", "100.00")
    call_command("run_trade_window")
    assert len(enqueued) == 1

    _, bobs = investor(make_user, "bob")
    intent(bobs, "deposit", "100.00")
    window = open_adhoc_window()
    run_window_task(window.pk)
    assert len(enqueued) == 2
    worker(enqueued)
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]


def test_dividends_paid_since_the_last_confirmation_are_listed(make_user, enqueued):
    _, account = investor(make_user, "alice", TWO)
    intent(account, "deposit", "100.00")
    first = run_adhoc()
    confirm_window(first.pk)
    worker(enqueued)
    assert "Dividends" not in mail.outbox[0].body

    vti = account.positions.get(security__symbol="VTI").security
    today = timezone.localdate()
    Dividend.objects.create(
        security=vti,
        ex_date=today - timedelta(days=1),
        pay_date=today,
        amount_per_share=Decimal("0.50"),
    )
    pay_due_dividends(today=today + timedelta(days=1))
    entry = LedgerEntry.objects.get(account=account, kind="dividend")
    intent(account, "deposit", "10.00")
    second = run_adhoc()
    confirm_window(second.pk)
    worker(enqueued)

    assert f"VTI ${entry.amount}" in mail.outbox[1].body
    assert "Dividends paid since your last confirmation" in mail.outbox[1].body


# --- the setting -----------------------------------------------------------------------------


def test_the_setting_is_on_by_default_and_changed_over_the_api(client, alice_account):
    client.force_login(alice_account.owner)
    url = f"/api/v1/accounts/{alice_account.pk}/"
    assert client.get(url).json()["notify"] is True
    response = client.patch(url, {"notify": False}, content_type="application/json")
    assert response.status_code == 200 and response.json()["notify"] is False
    assert Account.objects.get(pk=alice_account.pk).notify is False
    response = client.patch(url, {"notify": "maybe"}, content_type="application/json")
    assert response.status_code == 400 and "notify" in response.json()
    assert Account.objects.get(pk=alice_account.pk).notify is False


def test_the_settings_page_turns_confirmations_off_and_on(client, alice_account):
    client.force_login(alice_account.owner)
    url = f"/account/{alice_account.pk}/settings/"
    page = client.get(url).content.decode()
    assert "Email me a trade confirmation" in page and 'name="notify"' in page
    fields = {
        "name": "",
        "auto_invest": "on",
        "min_cash": "0",
        "window_preference": "morning",
        "lot_method": "tax_min",
    }
    client.post(url, fields)
    assert Account.objects.get(pk=alice_account.pk).notify is False
    client.post(url, {**fields, "notify": "on"})
    assert Account.objects.get(pk=alice_account.pk).notify is True


def test_a_close_with_the_broker_down_is_sent_by_the_tick_after_the_retry_time(
    make_user, settings, enqueued
):
    _, account = investor(make_user, "alice")
    intent(account, "deposit", "100.00")
    window = run_adhoc()
    with mock.patch(
        "trading.tasks.send_confirmations_task.delay_on_commit",
        side_effect=ConnectionError("redis is down"),
    ):
        assert confirm_window(window.pk) == 1  # the window's caller does not fail
    retry = timedelta(seconds=settings.PIES_CONFIRMATION_RETRY_SECONDS)
    tick(now=(timezone.now() + timedelta(seconds=30)).isoformat())
    assert enqueued == []
    tick(now=(timezone.now() + retry + timedelta(seconds=5)).isoformat())
    worker(enqueued)
    assert len(enqueued) == 1 and len(mail.outbox) == 1
