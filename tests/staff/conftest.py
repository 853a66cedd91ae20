"""Fixtures for the staff tools: people with and without the Operations group, and one row
of every model the admin shows."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone


@pytest.fixture
def operations_user(make_user):
    from trading.ops import ensure_operations_group

    user = make_user("opal", is_staff=True)
    user.groups.add(ensure_operations_group())
    return user


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def ops_client(client, operations_user):
    client.force_login(operations_user)
    return client


@pytest.fixture
def one_of_everything(alice_account, make_security):
    """One row of each model, written directly: enough for every admin page to render, not
    a consistent set of books (the window tests make those)."""
    from pies.models import Pie, Slice
    from trading.models import (
        Account,
        BlockOrder,
        Confirmation,
        Disposal,
        Dividend,
        Fill,
        Intent,
        LedgerEntry,
        Lot,
        Order,
        Position,
        RecurringDeposit,
        TradeWindow,
        WindowAccount,
        WindowChunk,
    )

    vti = make_security("VTI", "200.00")
    now = timezone.now()
    root = Pie.objects.get(account=alice_account, is_root=True)
    child = Pie.objects.create(account=alice_account, name="Bonds")
    leaf = Slice.objects.create(pie=root, security=vti, target_bp=6000)
    Slice.objects.create(pie=root, child_pie=child, target_bp=4000)
    position = Position.objects.create(account=alice_account, security=vti, slice=leaf)
    window = TradeWindow.objects.create(
        trade_date=now.date(),
        session="adhoc",
        scheduled_at=now,
        status="done",
        report={"accounts": 1, "orders": 1, "blocks": 1},
        timings={"freeze": 0.01, "plan": 0.02},
        started_at=now,
        finished_at=now + timedelta(seconds=1),
    )
    WindowAccount.objects.create(window=window, account=alice_account, chunk=0)
    WindowChunk.objects.create(
        window=window, phase="plan", number=0, claimed_at=now, done_at=now, worker="host:1:1"
    )
    Confirmation.objects.create(window=window, owner=alice_account.owner, account_ids=[1])
    RecurringDeposit.objects.create(
        account=alice_account,
        amount=Decimal("50.00"),
        frequency="weekly",
        start_date=now.date(),
        next_date=now.date(),
    )
    intent = Intent.objects.create(
        account=alice_account, kind="deposit", amount=Decimal("100.00"), window=window
    )
    order = Order.objects.create(
        window=window,
        account=alice_account,
        position=position,
        security=vti,
        intent=intent,
        side="buy",
        amount=Decimal("100.00"),
        reason="deposit",
    )
    block = BlockOrder.objects.create(window=window, security=vti, window_price=Decimal("200"))
    Fill.objects.create(
        block=block, side="buy", quantity=Decimal("0.5"), price=Decimal("200"), executed_at=now
    )
    lot = Lot.objects.create(
        position=position,
        order=order,
        acquired_on=date(2025, 1, 2),
        quantity=Decimal("1"),
        remaining_quantity=Decimal("0.5"),
        cost_basis=Decimal("200.00"),
        remaining_cost=Decimal("100.00"),
    )
    Disposal.objects.create(
        lot=lot,
        order=order,
        account=alice_account,
        security=vti,
        acquired_on=lot.acquired_on,
        sold_on=date(2026, 2, 2),
        quantity=Decimal("0.5"),
        proceeds=Decimal("110.00"),
        cost_basis=Decimal("100.00"),
        gain=Decimal("10.00"),
        term="long",
    )
    dividend = Dividend.objects.create(
        security=vti,
        ex_date=date(2026, 1, 5),
        pay_date=date(2026, 1, 9),
        amount_per_share=Decimal("0.5"),
    )
    external = Account.system("external")
    LedgerEntry.objects.create(
        account=alice_account, amount=Decimal("100.00"), kind="deposit", reference="t:1"
    )
    LedgerEntry.objects.create(
        account=external, amount=Decimal("-100.00"), kind="deposit", reference="t:1"
    )
    LedgerEntry.objects.create(
        account=alice_account,
        amount=Decimal("0.25"),
        kind="dividend",
        reference="dividend:x",
        dividend=dividend,
    )
    return {"window": window, "intent": intent, "dividend": dividend}


@pytest.fixture(autouse=True)
def fresh_cache():
    # The operations page caches the books' verdict in Redis, which outlives each test.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def carol_account(make_user):
    from pies.services import open_account

    return open_account(user=make_user("carol"), kind="individual")
