"""Redis down while investors deposit: the web and the API record the intent in the database,
the source of truth, and a worker executes it in the window after Redis is back.

The app runs under gunicorn with a Redis server of the test's own, stopped before the investor
even logs in and started again on the same port afterwards.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.faults.conftest import Processes, wait_until
from trading.books import verify_books
from trading.models import Intent, IntentStatus, Position, TradeWindow
from trading.valuation import window_for_account

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def hidden(page: requests.Response, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page.text)
    assert found, f"no {name} on {page.url}"
    return found.group(1)


def test_deposits_made_while_redis_is_down_are_recorded_and_run_once_it_is_back(
    procs: Processes, make_user, make_security
):
    from pies.models import Pie, Slice
    from pies.services import open_account

    redis_server = procs.redis()
    base = procs.gunicorn("web", redis_server)
    user = make_user("dora")
    account = open_account(user=user, kind="individual")
    root = Pie.objects.get(account=account, is_root=True)
    Slice.objects.create(pie=root, security=make_security("VTI", "200.00"), target_bp=6000)
    Slice.objects.create(pie=root, security=make_security("BND", "80.00"), target_bp=4000)
    token = Token.objects.create(user=user)

    redis_server.stop()

    web = requests.Session()
    login = web.get(f"{base}/accounts/login/", timeout=30)
    assert login.status_code == 200
    dashboard = web.post(
        login.url,
        data={
            "username": "dora",
            "password": "correct horse battery",
            "csrfmiddlewaretoken": hidden(login, "csrfmiddlewaretoken"),
        },
        timeout=30,
    )
    assert [r.status_code for r in [*dashboard.history, dashboard]] == [302, 200]
    form = web.get(f"{base}/account/{account.pk}/deposit/", timeout=30)
    assert form.status_code == 200
    queued = web.post(
        form.url,
        data={
            "amount": "250.00",
            "idempotency_key": hidden(form, "idempotency_key"),
            "csrfmiddlewaretoken": hidden(form, "csrfmiddlewaretoken"),
        },
        timeout=30,
    )
    assert [r.status_code for r in [*queued.history, queued]] == [302, 200], queued.text[:1000]
    assert "Deposit queued" in queued.text

    api = requests.post(
        f"{base}/api/v1/accounts/{account.pk}/deposits/",
        json={"amount": "150.00"},
        headers={"Authorization": f"Token {token.key}", "Idempotency-Key": "dora-1"},
        timeout=30,
    )
    assert api.status_code == 201, api.text

    deposits = Intent.objects.filter(account=account, kind="deposit")
    assert sorted((i.amount, i.status) for i in deposits) == [
        (Decimal("150.00"), IntentStatus.PENDING),
        (Decimal("250.00"), IntentStatus.PENDING),
    ]

    # Redis is back; beat's tick at the account's next window starts it on a worker.
    redis_server.start()
    worker = procs.worker("worker", redis_server)
    due = window_for_account(account, timezone.now())
    now = due.starts_at + timedelta(seconds=30)
    redis_server.client().send_task("trading.tasks.tick", kwargs={"now": now.isoformat()})
    wait_until(
        lambda: not deposits.exclude(status=IntentStatus.DONE).exists(),
        timeout=60,
        what="the deposits to run",
    )
    wait_until(lambda: TradeWindow.objects.get().status == "done", timeout=30, what="the window")
    window = TradeWindow.objects.get()
    assert window.attempts == 1
    assert {i.window_id for i in deposits.all()} == {window.pk}
    assert Position.objects.filter(account=account, quantity__gt=0).count() == 2
    account.refresh_from_db()
    assert account.cash < Decimal("1.00")  # 400.00 deposited, all invested
    assert worker.alive()
    assert verify_books() == []


def test_the_operations_page_says_the_broker_is_unreachable_while_redis_is_down(
    procs: Processes, make_user
):
    from trading.ops import ensure_operations_group

    redis_server = procs.redis()
    base = procs.gunicorn("web", redis_server)
    make_user("opal", is_staff=True).groups.add(ensure_operations_group())
    redis_server.stop()

    staff = requests.Session()
    login = staff.get(f"{base}/accounts/login/", timeout=30)
    credentials = {"username": "opal", "password": "correct horse battery"}
    staff.post(
        login.url,
        data={**credentials, "csrfmiddlewaretoken": hidden(login, "csrfmiddlewaretoken")},
        timeout=30,
    )
    page = staff.get(f"{base}/ops/", timeout=30)
    assert page.status_code == 200, page.text[:1000]
    assert "broker unreachable" in page.text
    assert "Balanced" in page.text  # the books, checked without the cache
