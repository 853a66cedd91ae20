"""Demo data for ``manage.py seed_demo``: real tickers, a deterministic year of prices, and
investors with history made by the real services and the real window engine.

Idempotent: securities and prices are upserts (the same seed gives the same prices, whatever
day it runs), users are created once, and the investors' history is made only when the demo
investors do not exist yet. Nothing is written behind the services' backs except the
timestamps that make the history look past (intents' and accounts' creation times).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from pies.models import Pie, Slice
from pies.services import open_account, save_pie_tree
from trading import calendar
from trading.models import (
    Account,
    AccountKind,
    Disposal,
    Dividend,
    Intent,
    LedgerEntry,
    Lot,
    LotMethod,
    Order,
    Price,
    Security,
    SecurityKind,
    Snapshot,
    TradeWindow,
)
from trading.money import PRICE_TICK
from trading.ops import ensure_operations_group
from trading.prices import PriceRow, import_prices
from trading.services import (
    create_schedule,
    pause_schedule,
    pay_dividend,
    request_deposit,
    request_withdrawal,
)
from trading.services.snapshots import backfill_snapshots

DEMO_PASSWORD = "pies-demo-123"
DEMO_LOGINS = (("alice", DEMO_PASSWORD), ("bob", DEMO_PASSWORD))
STAFF_LOGIN = ("ops", "pies-ops-123")
ADMIN_LOGIN = ("admin", "pies-admin-123")
DEFAULT_SEED = 1

# The walk starts on a fixed day so that a day's price never depends on when seed_demo ran.
WALK_START = date(2024, 1, 2)
# A year of prices, plus the weeks that let lots bought at the start be sold long-term.
HISTORY_DAYS = 400


@dataclass(frozen=True)
class DemoSecurity:
    symbol: str
    name: str
    kind: str
    start: str  # price on WALK_START
    drift_bp: int  # mean daily move, basis points
    swing_bp: int  # size of the daily move, basis points


ETF, STOCK, FUND = SecurityKind.ETF, SecurityKind.STOCK, SecurityKind.FUND
SECURITIES = [
    DemoSecurity("VTI", "Vanguard Total Stock Market ETF", ETF, "236.00", 5, 90),
    DemoSecurity("VOO", "Vanguard S&P 500 ETF", ETF, "435.00", 5, 85),
    DemoSecurity("SPY", "SPDR S&P 500 ETF Trust", ETF, "473.00", 5, 85),
    DemoSecurity("QQQ", "Invesco QQQ Trust", ETF, "402.00", 6, 120),
    DemoSecurity("IWM", "iShares Russell 2000 ETF", ETF, "198.00", 3, 130),
    DemoSecurity("VXUS", "Vanguard Total International Stock ETF", ETF, "57.00", 3, 80),
    DemoSecurity("VEA", "Vanguard FTSE Developed Markets ETF", ETF, "47.00", 3, 80),
    DemoSecurity("VWO", "Vanguard FTSE Emerging Markets ETF", ETF, "41.00", 2, 100),
    DemoSecurity("SCHD", "Schwab U.S. Dividend Equity ETF", ETF, "76.00", 3, 70),
    DemoSecurity("VNQ", "Vanguard Real Estate ETF", ETF, "87.00", 1, 110),
    DemoSecurity("BND", "Vanguard Total Bond Market ETF", ETF, "73.00", 1, 30),
    DemoSecurity("BNDX", "Vanguard Total International Bond ETF", ETF, "49.00", 1, 25),
    DemoSecurity("AGG", "iShares Core U.S. Aggregate Bond ETF", ETF, "99.00", 1, 30),
    DemoSecurity("TIP", "iShares TIPS Bond ETF", ETF, "108.00", 1, 30),
    DemoSecurity("SHY", "iShares 1-3 Year Treasury Bond ETF", ETF, "82.00", 0, 8),
    DemoSecurity("IEF", "iShares 7-10 Year Treasury Bond ETF", ETF, "95.00", 0, 40),
    DemoSecurity("TLT", "iShares 20+ Year Treasury Bond ETF", ETF, "97.00", -1, 90),
    DemoSecurity(
        "LQD", "iShares iBoxx $ Investment Grade Corporate Bond ETF", ETF, "108.00", 1, 45
    ),
    DemoSecurity("VTSAX", "Vanguard Total Stock Market Index Fund Admiral", FUND, "114.00", 5, 90),
    DemoSecurity("VBTLX", "Vanguard Total Bond Market Index Fund Admiral", FUND, "9.70", 1, 30),
    DemoSecurity("AAPL", "Apple Inc.", STOCK, "185.00", 5, 150),
    DemoSecurity("MSFT", "Microsoft Corporation", STOCK, "370.00", 6, 140),
    DemoSecurity("AMZN", "Amazon.com, Inc.", STOCK, "149.00", 6, 180),
    DemoSecurity("GOOGL", "Alphabet Inc. Class A", STOCK, "138.00", 6, 170),
    DemoSecurity("NVDA", "NVIDIA Corporation", STOCK, "48.00", 12, 280),
    DemoSecurity("META", "Meta Platforms, Inc.", STOCK, "345.00", 8, 210),
    DemoSecurity("BRK.B", "Berkshire Hathaway Inc. Class B", STOCK, "357.00", 4, 80),
    DemoSecurity("JNJ", "Johnson & Johnson", STOCK, "156.00", 1, 90),
    DemoSecurity("JPM", "JPMorgan Chase & Co.", STOCK, "170.00", 6, 130),
    DemoSecurity("PG", "The Procter & Gamble Company", STOCK, "146.00", 2, 80),
    DemoSecurity("KO", "The Coca-Cola Company", STOCK, "59.00", 2, 70),
    DemoSecurity("XOM", "Exxon Mobil Corporation", STOCK, "100.00", 1, 140),
    DemoSecurity("V", "Visa Inc. Class A", STOCK, "260.00", 4, 100),
]

ALICE_CORE = {
    "name": "Core",
    "slices": [
        {"target_percent": "40.00", "symbol": "VTI"},
        {"target_percent": "20.00", "symbol": "VXUS"},
        {
            "target_percent": "25.00",
            "pie": {
                "name": "Bonds",
                "slices": [
                    {"target_percent": "70.00", "symbol": "BND"},
                    {"target_percent": "30.00", "symbol": "TIP"},
                ],
            },
        },
        {
            "target_percent": "15.00",
            "pie": {
                "name": "Growth",
                "slices": [
                    {"target_percent": "40.00", "symbol": "QQQ"},
                    {
                        "target_percent": "60.00",
                        "pie": {
                            "name": "Tech",
                            "slices": [
                                {"target_percent": "30.00", "symbol": "AAPL"},
                                {"target_percent": "30.00", "symbol": "MSFT"},
                                {"target_percent": "20.00", "symbol": "NVDA"},
                                {"target_percent": "20.00", "symbol": "GOOGL"},
                            ],
                        },
                    },
                ],
            },
        },
    ],
}
ALICE_ROTH = {
    "name": "Retirement",
    "slices": [
        {"target_percent": "60.00", "symbol": "VOO"},
        {"target_percent": "20.00", "symbol": "VEA"},
        {"target_percent": "20.00", "symbol": "BNDX"},
    ],
}
BOB_INCOME = {
    "name": "Income",
    "slices": [
        {"target_percent": "40.00", "symbol": "SCHD"},
        {"target_percent": "15.00", "symbol": "VNQ"},
        {
            "target_percent": "45.00",
            "pie": {
                "name": "Blue chips",
                "slices": [
                    {"target_percent": "25.00", "symbol": "JNJ"},
                    {"target_percent": "25.00", "symbol": "PG"},
                    {"target_percent": "25.00", "symbol": "KO"},
                    {"target_percent": "25.00", "symbol": "JPM"},
                ],
            },
        },
    ],
}


# --- Prices ----------------------------------------------------------------------------------


def trading_days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        if calendar.is_trading_day(day):
            yield day
        day += timedelta(days=1)


def price_walk(security: DemoSecurity, *, seed: int, until: date) -> Iterator[tuple[date, Decimal]]:
    """Closing prices from WALK_START to ``until``, in Decimal: each day moves by a whole
    number of basis points drawn from a generator seeded by (seed, symbol)."""
    rng = random.Random(f"{seed}:{security.symbol}")
    price = Decimal(security.start)
    floor = Decimal(security.start) / 10  # a demo security never crashes to nothing
    for day in trading_days(WALK_START, until):
        # The sum of two uniform draws: a gentle bell, without floats.
        move = security.drift_bp + rng.randint(-security.swing_bp, security.swing_bp)
        move += rng.randint(-security.swing_bp, security.swing_bp) // 2
        price = max(price * (10000 + move) / 10000, floor).quantize(PRICE_TICK)
        yield day, price


def seed_prices(*, seed: int, now: datetime) -> int:
    """Upsert the closes of the last HISTORY_DAYS days that have already happened."""
    today = calendar.market_date(now)
    first = today - timedelta(days=HISTORY_DAYS)
    ids = dict(Security.objects.values_list("symbol", "id"))
    rows = [
        PriceRow(0, spec.symbol, ids[spec.symbol], calendar.close_of(day), price)
        for spec in SECURITIES
        for day, price in price_walk(spec, seed=seed, until=today)
        if day >= first and calendar.close_of(day) <= now
    ]
    return import_prices(rows)


def seed_securities() -> None:
    for spec in SECURITIES:
        Security.objects.update_or_create(
            symbol=spec.symbol, defaults={"name": spec.name, "kind": spec.kind, "active": True}
        )


# --- People ----------------------------------------------------------------------------------


def ensure_user(username: str, password: str, **flags: Any) -> tuple[Any, bool]:
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.com", **flags}
    )
    if created:
        # Only on creation: re-running the seed must not reset a password someone changed.
        user.set_password(password)
        user.save(update_fields=["password"])
    return user, created


def seed_staff() -> None:
    group = ensure_operations_group()
    ops, _ = ensure_user(STAFF_LOGIN[0], STAFF_LOGIN[1], is_staff=True)
    ops.groups.add(group)
    ensure_user(ADMIN_LOGIN[0], ADMIN_LOGIN[1], is_staff=True, is_superuser=True)


# --- History ---------------------------------------------------------------------------------


def trading_day_near(day: date) -> date:
    """The trading day on or before ``day``."""
    while not calendar.is_trading_day(day):
        day -= timedelta(days=1)
    return day


def market_time(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=calendar.MARKET_TZ)


def backdate_intents(intents: list[Intent], at: datetime) -> None:
    # A past window takes only intents created before its start, so the demo's intents must
    # look as old as the window that executes them.
    Intent.objects.filter(pk__in=[intent.pk for intent in intents]).update(created_at=at)


def run_past_window(at: datetime) -> TradeWindow:
    from trading.window import open_adhoc_window, run_window

    window = open_adhoc_window(now=at)
    run_window(window.pk)
    window.refresh_from_db()
    if window.status != "done":
        raise RuntimeError(f"demo window {window.pk} ended {window.status}: {window.error}")
    backdate_window(window, at)
    # History, not news: no trade confirmations for the demo's past windows (the next window
    # on `make run` sends alice's and bob's, shown in the worker's log).
    TradeWindow.objects.filter(pk=window.pk).update(confirmations_at=window.finished_at)
    return window


def backdate_window(window: TradeWindow, at: datetime) -> None:
    """Put the window's ledger entries, orders and times at ``at``, when its history happened
    (the engine stamps them with the seeding time). The ledger's append-only trigger lets
    exactly this through, and only inside this transaction (migration 0011)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pies.backdating_demo', 'on', true)")
        cursor.execute(
            "UPDATE trading_ledgerentry SET created_at = %s WHERE window_id = %s", [at, window.pk]
        )
        cursor.execute("SELECT set_config('pies.backdating_demo', 'off', true)")
    Order.objects.filter(window=window).update(created_at=at)
    TradeWindow.objects.filter(pk=window.pk).update(
        created_at=at, started_at=at, finished_at=at, heartbeat_at=at
    )


def pay_past_dividend(symbol: str, *, ex_date: date, pay_date: date, per_share: str) -> None:
    dividend, _ = Dividend.objects.get_or_create(
        security=Security.objects.get(symbol=symbol),
        ex_date=ex_date,
        defaults={"pay_date": pay_date, "amount_per_share": Decimal(per_share)},
    )
    pay_dividend(dividend_id=dividend.pk, today=pay_date, now=market_time(pay_date, 8))


def seed_history(*, today: date) -> None:
    """Three investors' accounts, pies and a year of windows: deposits, a dividend reinvested,
    a withdrawal (short-term gains), a rebalance and a FIFO withdrawal of year-old lots
    (long-term gains), then a few intents left pending for the next window."""
    alice, _ = ensure_user("alice", DEMO_PASSWORD)
    bob, _ = ensure_user("bob", DEMO_PASSWORD)
    alice_main = open_account(user=alice, kind=AccountKind.INDIVIDUAL, name="Main")
    alice_roth = open_account(user=alice, kind=AccountKind.ROTH_IRA, name="Retirement")
    bob_main = open_account(user=bob, kind=AccountKind.INDIVIDUAL, name="Income")
    Account.objects.filter(pk=bob_main.pk).update(lot_method=LotMethod.FIFO)
    for account, tree in (
        (alice_main, ALICE_CORE),
        (alice_roth, ALICE_ROTH),
        (bob_main, BOB_INCOME),
    ):
        save_pie_tree(account=account, tree=tree, version=1)

    start = today - timedelta(days=HISTORY_DAYS - 10)
    Account.objects.filter(pk__in=[alice_main.pk, alice_roth.pk, bob_main.pk]).update(
        created_at=market_time(start, 8)
    )
    get_user_model().objects.filter(pk__in=[alice.pk, bob.pk]).update(
        date_joined=market_time(start, 8)
    )

    def window(days_ago: int, *requests: tuple[Account, str, str]) -> date:
        day = trading_day_near(today - timedelta(days=days_ago))
        at = market_time(day, 11)
        intents = []
        for account, kind, amount in requests:
            request = request_deposit if kind == "deposit" else request_withdrawal
            intents.append(request(account=account, amount=amount).intent)
        backdate_intents(intents, at - timedelta(hours=1))
        run_past_window(at)
        return day

    window(
        HISTORY_DAYS - 10,
        (alice_main, "deposit", "10000.00"),
        (alice_roth, "deposit", "6000.00"),
        (bob_main, "deposit", "8000.00"),
    )
    window(300, (alice_main, "deposit", "2500.00"), (bob_main, "deposit", "1500.00"))
    ex = trading_day_near(today - timedelta(days=250))
    pay_past_dividend("VTI", ex_date=ex, pay_date=ex + timedelta(days=4), per_share="0.9231")
    # Short-term: every lot of alice's is younger than a year here.
    window(240, (alice_main, "withdrawal", "1200.00"), (bob_main, "deposit", "1000.00"))
    ex = trading_day_near(today - timedelta(days=160))
    pay_past_dividend("SCHD", ex_date=ex, pay_date=ex + timedelta(days=5), per_share="0.6163")
    ex = trading_day_near(today - timedelta(days=100))
    pay_past_dividend("BND", ex_date=ex, pay_date=ex + timedelta(days=5), per_share="0.2041")
    window(150, (alice_roth, "deposit", "1000.00"))
    # Long-term: bob sells first-in (lots from the first window, now over a year old).
    window(15, (bob_main, "withdrawal", "2000.00"), (alice_main, "deposit", "500.00"))
    rebalance_at = market_time(trading_day_near(today - timedelta(days=8)), 11)
    _rebalance(alice_main, at=rebalance_at)

    # Left pending, for the dashboard and the operations page.
    request_deposit(account=bob_main, amount="250.00")
    request_withdrawal(account=alice_roth, amount="100.00")
    upcoming = today + timedelta(days=14)
    Dividend.objects.get_or_create(
        security=Security.objects.get(symbol="VXUS"),
        ex_date=upcoming,
        defaults={"pay_date": upcoming + timedelta(days=3), "amount_per_share": Decimal("0.4512")},
    )
    _schedule_deposits(alice_main, alice_roth, bob_main, today=today)


def _schedule_deposits(main: Account, roth: Account, income: Account, *, today: date) -> None:
    """Recurring deposits: every two weeks into Main, monthly into the Roth, and a paused one."""
    now = market_time(today, 12)
    create_schedule(
        account=main,
        amount="200.00",
        frequency="biweekly",
        start_date=today - timedelta(days=10),
        now=now,
    )
    create_schedule(
        account=roth, amount="500.00", frequency="monthly", day=15, start_date=today, now=now
    )
    paused = create_schedule(
        account=income, amount="100.00", frequency="weekly", start_date=today, now=now
    )
    pause_schedule(schedule=paused)


def _rebalance(account: Account, *, at: datetime) -> None:
    from trading.services import request_rebalance

    intent = request_rebalance(account=account).intent
    backdate_intents([intent], at - timedelta(hours=1))
    run_past_window(at)


# --- The command's entry point ---------------------------------------------------------------


@dataclass(frozen=True)
class SeedResult:
    prices: int
    history_created: bool


def seed_demo(*, seed: int = DEFAULT_SEED, now: datetime | None = None) -> SeedResult:
    now = now or timezone.now()
    with transaction.atomic():
        seed_securities()
        prices = seed_prices(seed=seed, now=now)
        seed_staff()
    created = False
    if not get_user_model().objects.filter(username__in=["alice", "bob"]).exists():
        # One transaction: a failure midway leaves no half-made investors, and the next run
        # starts the history again from scratch.
        with transaction.atomic():
            seed_history(today=calendar.market_date(now))
        created = True
    seed_snapshots(now=now)
    return SeedResult(prices=prices, history_created=created)


def seed_snapshots(*, now: datetime) -> None:
    """The daily snapshots of the demo's history, so the value chart has a year to show.
    A rewrite with the same books and prices changes no row."""
    opened = Account.objects.investor().order_by("created_at").values_list("created_at", flat=True)
    if opened:
        first = calendar.market_date(opened[0])
        backfill_snapshots(first=first, last=calendar.market_date(now), now=now)


def demo_fingerprint() -> str:
    """A digest of the demo's data (not of row ids or passwords), to show a re-run changes
    nothing."""
    digest = hashlib.sha256()

    def feed(label: str, rows: Any) -> None:
        digest.update(label.encode())
        for row in rows:
            digest.update(repr(tuple(str(value) for value in row)).encode())

    feed(
        "securities",
        Security.objects.order_by("symbol").values_list("symbol", "name", "kind", "active"),
    )
    feed(
        "prices",
        Price.objects.order_by("security__symbol", "at").values_list(
            "security__symbol", "at", "price"
        ),
    )
    feed(
        "users",
        get_user_model()
        .objects.order_by("username")
        .values_list("username", "is_staff", "is_superuser", "groups__name"),
    )
    feed(
        "accounts",
        Account.objects.order_by("owner__username", "kind").values_list(
            "owner__username", "kind", "cash"
        ),
    )
    feed(
        "pies",
        Pie.objects.order_by("account__owner__username", "account__kind", "name").values_list(
            "account__owner__username", "name", "version"
        ),
    )
    feed(
        "slices",
        Slice.objects.order_by(
            "pie__account__owner__username", "pie__name", "security__symbol", "child_pie__name"
        ).values_list("pie__name", "security__symbol", "child_pie__name", "target_bp", "status"),
    )
    feed(
        "intents",
        Intent.objects.order_by("account__owner__username", "created_at", "kind").values_list(
            "account__owner__username", "kind", "amount", "status"
        ),
    )
    feed("windows", [(TradeWindow.objects.count(),)])
    feed(
        "snapshots",
        Snapshot.objects.order_by("account__owner__username", "account__kind", "day").values_list(
            "account__owner__username", "account__kind", "day", "value", "net_contributions"
        ),
    )
    feed(
        "lots",
        Lot.objects.order_by(
            "position__account__owner__username",
            "position__security__symbol",
            "acquired_on",
            "quantity",
        ).values_list(
            "position__security__symbol",
            "acquired_on",
            "quantity",
            "remaining_quantity",
            "cost_basis",
            "remaining_cost",
        ),
    )
    feed(
        "disposals",
        Disposal.objects.order_by(
            "sold_on", "security__symbol", "acquired_on", "quantity"
        ).values_list("security__symbol", "sold_on", "quantity", "gain", "term"),
    )
    feed(
        "dividends",
        Dividend.objects.order_by("security__symbol", "ex_date").values_list(
            "security__symbol", "ex_date", "pay_date", "amount_per_share", "paid_at"
        ),
    )
    feed(
        "ledger",
        LedgerEntry.objects.values("account__owner__username", "account__kind", "kind")
        .order_by("account__owner__username", "account__kind", "kind")
        .annotate(total=Sum("amount"))
        .values_list("account__owner__username", "account__kind", "kind", "total"),
    )
    return digest.hexdigest()
