"""Phase 1, freeze: take the intents created before the window's start and fix its accounts.

One statement binds the intents (``window_id`` set where still pending and unbound, so a
cancelled intent or one another window took is never taken) and records which accounts the
window serves, numbered into chunks: those with a bound intent, and those with auto-invest on
whose cash exceeds ``min_cash`` by at least the trigger (a dividend, an earlier deposit whose
buy waited for a price). Fixing the set here is what lets a resumed run see the same accounts.

The rows also own the accounts until the window is done (``trading.ownership``): an account
that another window owns (running, or failed and not yet retried or abandoned) is left out
entirely, and its intents wait for a later window. Each row keeps the settings the window
plans and posts with (auto-invest, min cash, lot method), copied here. The statement runs
under the ownership lock, taken exclusive, so no edit is half-way between its check and its
write while the accounts are chosen.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction

from trading.calendar import BOTH_WINDOWS_VALUE, MORNING, is_early_close, serves_every_account
from trading.models import HOLDS_ACCOUNTS, USER_ACCOUNT_KINDS, ChunkPhase
from trading.ownership import lock_for_freeze
from trading.valuation import latest_price_sql
from trading.window.common import Run, fetch, load_json, statuses

# Accounts that trade in this window: everyone (``serves_everyone``: ad-hoc, or an early-close
# morning), or else ``trading.calendar.trades_in`` for every account at once: those preferring
# this session, or worth at least %(both)s (``BOTH_WINDOWS_VALUE``, 25,000.00) in cash and
# holdings at the window's prices, valued as ``trading.valuation.account_value`` and every page
# value them (each holding rounded down to cents).
# lp: each security's window price; invested: each account's holdings at those prices.
_ELIGIBLE_BY_VALUE = f"""
    lp AS (
        SELECT s.id AS security_id, latest.price
        FROM trading_security s
        JOIN {latest_price_sql(security="s.id", at="%(at)s")} latest ON TRUE
    ),
    -- each holding's sellable value (rounded down to cents), as ``account_value`` counts it
    invested AS (
        SELECT p.account_id, SUM(FLOOR(p.quantity * lp.price * 100) / 100) AS value
        FROM trading_position p JOIN lp ON lp.security_id = p.security_id
        WHERE p.quantity > 0
        GROUP BY p.account_id
    ),
    eligible AS (
        SELECT a.id, a.cash, a.min_cash, a.auto_invest, a.lot_method
        FROM trading_account a LEFT JOIN invested i ON i.account_id = a.id
        WHERE a.kind = ANY(%(kinds)s)
          AND a.id NOT IN (SELECT account_id FROM owned)
          AND (a.window_preference = %(session)s OR a.cash + COALESCE(i.value, 0) >= %(both)s)
    ),"""
_ELIGIBLE_ALL = """
    eligible AS (
        SELECT a.id, a.cash, a.min_cash, a.auto_invest, a.lot_method
        FROM trading_account a
        WHERE a.kind = ANY(%(kinds)s) AND a.id NOT IN (SELECT account_id FROM owned)
    ),"""
# owned: the accounts another window holds (it froze them and is not done); they wait.
# eligible: who trades in this window, with the settings it will use.
# bound: their pending, unbound intents created before the start, now the window's.
# chosen: accounts with a bound intent or cash to auto-invest; rows: their WindowAccount rows.
_FREEZE = """
WITH owned AS (
        SELECT DISTINCT wa.account_id
        FROM trading_tradewindow w JOIN trading_windowaccount wa ON wa.window_id = w.id
        WHERE w.status = ANY(%(holding)s) AND w.id <> %(window)s
    ),
    {eligible}
    bound AS (
        UPDATE trading_intent t SET window_id = %(window)s
        FROM eligible e
        WHERE t.account_id = e.id AND t.status = %(pending)s AND t.window_id IS NULL
          AND t.created_at < %(at)s
        RETURNING t.account_id
    ),
    chosen AS (
        SELECT account_id FROM bound
        UNION
        SELECT id FROM eligible
        WHERE auto_invest AND cash - min_cash >= %(trigger)s AND cash - min_cash > 0
    ),
    rows AS (
        INSERT INTO trading_windowaccount
            (window_id, account_id, chunk, auto_invest, min_cash, lot_method)
        SELECT %(window)s, c.account_id,
               (row_number() OVER (ORDER BY c.account_id) - 1) / %(size)s,
               e.auto_invest, e.min_cash, e.lot_method
        FROM chosen c JOIN eligible e ON e.id = c.account_id
        ON CONFLICT (window_id, account_id) DO NOTHING
        RETURNING chunk
    ),
    -- the progress rows of the plan and post chunks (trading.window.chunks)
    chunk_rows AS (
        INSERT INTO trading_windowchunk (window_id, phase, number, worker, stats, seconds)
        SELECT %(window)s, phase, number, '', '{{}}', '{{}}'
        FROM (SELECT DISTINCT chunk AS number FROM rows) c
        CROSS JOIN unnest(%(phases)s::text[]) AS phase
        RETURNING 1
    ),
    saved AS (
        UPDATE trading_tradewindow
        SET progress = progress || jsonb_build_object(
                'freeze', true,
                'chunks', (SELECT COALESCE(MAX(chunk) + 1, 0) FROM rows),
                'accounts', (SELECT COUNT(*) FROM rows),
                'intents', (SELECT COUNT(*) FROM bound),
                'held_by_unfinished_windows', (SELECT COUNT(*) FROM owned),
                'max_slippage_bp', %(slippage)s::int,
                'frozen_at', clock_timestamp()),
            phase = 'freeze', heartbeat_at = clock_timestamp()
        WHERE id = %(window)s
        RETURNING progress
    )
SELECT progress FROM saved
"""


def serves_everyone(run: Run) -> bool:
    # Only a morning asks the calendar: an ad-hoc window's day may lie outside its range.
    early_close = run.session == MORNING and is_early_close(run.trade_date)
    return serves_every_account(session=run.session, early_close=early_close)


def freeze(run: Run) -> None:
    sql = _FREEZE.format(eligible=_ELIGIBLE_ALL if serves_everyone(run) else _ELIGIBLE_BY_VALUE)
    with transaction.atomic():
        lock_for_freeze()
        # The only window statement planned as costly enough to compile (JIT), from its row
        # guesses for the CTEs; compiling took 1.05 s of 6.5 s at 100,000 accounts, and no
        # other window statement compiles (chunks turn it off in their claim).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        [(progress,)] = fetch(
            sql,
            {
                "window": run.window_id,
                "at": run.scheduled_at,
                "kinds": list(USER_ACCOUNT_KINDS),
                "session": run.session,
                "both": BOTH_WINDOWS_VALUE,
                "trigger": settings.PIES_AUTO_INVEST_TRIGGER,
                "size": run.chunk_size,
                "phases": [phase.value for phase in ChunkPhase],
                "slippage": settings.PIES_MAX_SLIPPAGE_BP,
                "holding": [status.value for status in HOLDS_ACCOUNTS],
                **statuses(),
            },
        )
    run.progress = load_json(progress)
