"""Phase 2, plan: per account, turn its intents and cash into orders (product.md, Plan).

Per account, in this order: credit deposits; withdrawals (cash first, then sells by
``allocate_sell``; more than the account is worth fails and sells nothing); slice removals
(sold in full, the proceeds bought into the same parent pie, whatever auto-invest says);
rebalances; auto-invest of the cash above ``min_cash`` when it reaches the trigger. Every step
sees the values the earlier ones planned. A buy and a sell of one position net into one order;
one security in two positions keeps two orders (the books stay per position; the block nets).

Orders on a security with no window price are written with status ``waiting`` and never
executed: their money stays cash, a removal waits for the next window (its intent is released).

A chunk is one transaction (``trading.window.chunks``): three reads (the chunk claimed with its
accounts, intents, slices), two binary COPYs into the staging tables (orders, deposit entries),
one statement applying them (positions for new slices, orders, ledger entries, customers'
cash, intents), and the statement that ends every chunk (``chunks.finish``: the system
accounts' cash, the chunk marked done and the window's heartbeat): seven in all.
The per-account decisions are
``trading.window.account_plan`` (plain Python over the rows read here); this module reads the
chunk and writes what they decided.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings

from trading.models import ChunkPhase, IntentKind, OrderStatus
from trading.window.account_plan import AccountPlan, PlannedOrder
from trading.window.chunks import CLAIMED_CTE, Claim, finish
from trading.window.common import (
    LEDGER_CTES,
    SYSTEM_DELTAS,
    LedgerRow,
    Run,
    dump_json,
    fetch,
    in_chunk_transaction,
    statuses,
)
from trading.window.staging import LEDGER, ORDERS, copy_rows, take

# The chunk claimed, and its accounts with the settings frozen with the window (a change saved
# meanwhile waits).
_ACCOUNTS = f"""
WITH {CLAIMED_CTE}
SELECT c.number, c.at, a.id, a.cash, COALESCE(wa.min_cash, a.min_cash),
       COALESCE(wa.auto_invest, a.auto_invest), root.id
FROM claimed c
JOIN trading_windowaccount wa ON wa.window_id = %(window)s AND wa.chunk = c.number
JOIN trading_account a ON a.id = wa.account_id
LEFT JOIN pies_pie root ON root.account_id = a.id AND root.is_root
ORDER BY a.id
"""
_INTENTS = """
    SELECT t.id, t.account_id, t.kind, t.amount, t.withdraw_all, t.pie_id, t.slice_id
    FROM trading_intent t
    WHERE t.account_id = ANY(%(accounts)s::bigint[]) AND t.window_id = %(window)s
      AND t.status = %(pending)s
    ORDER BY t.created_at, t.id
"""
# Each row ends with a slice as ``AccountPlan`` takes it (from s.id on; NULLs for a pie with no
# slices), so the plan keeps it as a slice of the row.
_SLICES = """
    SELECT p.account_id, p.name, s.id, p.id, s.security_id, s.child_pie_id, s.target_bp,
           s.status, pos.id, pos.quantity
    FROM pies_pie p
    LEFT JOIN pies_slice s ON s.pie_id = p.id AND s.status <> %(removed)s
    LEFT JOIN trading_position pos ON pos.slice_id = s.id
    WHERE p.account_id = ANY(%(accounts)s::bigint[])
    ORDER BY p.id, s."order", s.id
"""
# The chunk's whole effect, from its staged rows (``trading.window.staging``), in one statement.
_APPLY = f"""
WITH
    planned AS ({take(ORDERS)}),
    -- a slice bought for the first time gets its position (the row may exist: kept as is)
    new_positions AS (
        INSERT INTO trading_position (account_id, security_id, slice_id, quantity)
        SELECT DISTINCT account_id, security_id, slice_id, 0
        FROM planned WHERE position_id IS NULL
        ON CONFLICT (slice_id) DO UPDATE SET quantity = trading_position.quantity
        RETURNING id, slice_id
    ),
    orders AS (
        INSERT INTO trading_order (window_id, account_id, position_id, security_id, intent_id,
            side, status, amount, quantity, price, filled_amount, reason, explanation,
            created_at)
        SELECT %(window)s, o.account_id, COALESCE(o.position_id, n.id), o.security_id,
            o.intent_id, o.side, o.status, o.amount, o.quantity, NULL, NULL, o.reason,
            o.explanation::jsonb, statement_timestamp()
        FROM planned o LEFT JOIN new_positions n ON n.slice_id = o.slice_id
        RETURNING 1
    ),
    {LEDGER_CTES},
    -- intents failed, or released to wait for a later window (a removal without a price)
    intents AS (
        UPDATE trading_intent t
        SET status = u.status, failure_reason = u.reason,
            finished_at = CASE WHEN u.status = %(pending)s THEN NULL
                               ELSE statement_timestamp() END,
            window_id = CASE WHEN u.release THEN NULL ELSE t.window_id END
        FROM unnest(%(intents)s::bigint[], %(outcomes)s::text[], %(reasons)s::text[],
                    %(releases)s::boolean[])
            AS u(id, status, reason, release)
        WHERE t.id = u.id AND t.status = %(pending)s
        RETURNING 1
    )
SELECT (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM entries), {SYSTEM_DELTAS}
"""


def plan_chunk(run: Run) -> Claim | None:
    """Claim a chunk of the window's plan and do it, in one transaction; None when no chunk is
    left to claim (all done, or being done by others)."""
    return in_chunk_transaction(lambda: _plan_claimed(run))


def _plan_claimed(run: Run) -> Claim | None:
    """``plan_chunk``'s work, in its transaction."""
    claimed = fetch(_ACCOUNTS, {"window": run.window_id, "phase": ChunkPhase.PLAN})
    claim = Claim.of(ChunkPhase.PLAN, claimed)
    if claim is None:
        return None
    with claim.timed("read"):
        accounts = [row[2:] for row in claimed]
        # The chunk's accounts by id from here on: the window's rows were just written and
        # have no planner statistics yet, so joining them again invites a nested loop.
        ids = [row[0] for row in accounts]
        intents = fetch(_INTENTS, {"accounts": ids, "window": run.window_id, **statuses()})
        slice_rows = fetch(_SLICES, {"accounts": ids, **statuses()})

    with claim.timed("plan"):
        orders, outcomes, ledger = plan_accounts(run, accounts, intents, slice_rows)

    for status, _, release in outcomes.values():
        claim.count("released" if release else f"intents_{status}")
    no_price: dict[str, dict[str, Any]] = {}
    for order in orders:
        if order.status == OrderStatus.WAITING:
            symbol = run.symbols.get(order.leaf.security_id, str(order.leaf.security_id))
            entry = no_price.setdefault(symbol, {"orders": 0, "buy": "0", "sell": "0"})
            entry["orders"] += 1
            entry[order.side] = str(Decimal(entry[order.side]) + order.amount)
    if no_price:
        claim.stats["waiting"] = no_price
    claim.count("orders", len(orders))
    claim.count("deposits", len(ledger) // 2)

    with claim.timed("write"):
        copy_rows(
            ORDERS,
            (
                (
                    o.account_id,
                    o.leaf.slice_id,
                    o.leaf.position_id,
                    o.leaf.security_id,
                    o.intent_id,
                    o.side,
                    o.status,
                    o.amount,
                    o.quantity,
                    o.reason,
                    dump_json(o.explanation),
                )
                for o in orders
            ),
        )
        copy_rows(LEDGER, (row for row in ledger if row[1] != 0))
        [(_, _, system_accounts, system_deltas)] = fetch(
            _APPLY,
            {
                **statuses(),
                "window": run.window_id,
                "system": run.system.ids(),
                "intents": list(outcomes),
                "outcomes": [status for status, _, _ in outcomes.values()],
                "reasons": [reason for _, reason, _ in outcomes.values()],
                "releases": [release for _, _, release in outcomes.values()],
            },
        )
    finish(run, claim, system_accounts, system_deltas)
    return claim


def plan_accounts(
    run: Run, accounts: list[tuple], intents: list[tuple], slice_rows: list[tuple]
) -> tuple[list[PlannedOrder], dict[int, tuple[str, str, bool]], list[LedgerRow]]:
    """The chunk's decisions, from the rows read (no database): its orders, its intents'
    outcomes and its deposit entries, account by account in product.md's order."""
    trigger: Decimal = settings.PIES_AUTO_INVEST_TRIGGER
    pies: dict[int, dict[int, str]] = {}
    rows: dict[int, list[tuple]] = {}
    # (account, pie name, then the slice: id, pie, security, sub-pie, target, status, position,
    # quantity); a plain loop over 55,000 rows a chunk, so no unpacking into new tuples
    for row in slice_rows:
        account_id = row[0]
        names = pies.get(account_id)
        if names is None:
            names = pies[account_id] = {}
        names[row[3]] = row[1]
        if row[2] is not None:
            rows.setdefault(account_id, []).append(row[2:])
    by_account: dict[int, list[tuple]] = {}
    for row in intents:
        by_account.setdefault(row[1], []).append(row)

    orders: list[PlannedOrder] = []
    outcomes: dict[int, tuple[str, str, bool]] = {}
    ledger: list[LedgerRow] = []
    limits = run.limit_prices()
    for account_id, balance, min_cash, auto_invest, root_id in accounts:
        plan = AccountPlan(
            account_id=account_id,
            cash=balance,
            min_cash=min_cash,
            auto_invest=auto_invest,
            root_id=root_id,
            pies=pies.get(account_id, {}),
            rows=rows.get(account_id, []),
            prices=run.prices,
            symbols=run.symbols,
            limits=limits,
        )
        mine = by_account.get(account_id, [])
        deposited = False
        for intent_id, _, kind, amount, _, _, _ in mine:
            if kind == IntentKind.DEPOSIT:
                plan.deposit(intent_id, amount)
                deposited = True
        # A withdrawal of everything with a holding that has no price waits, whole.
        waiting = plan.wait_for_prices([(row[0], row[2], row[4]) for row in mine])
        everything = waiting
        for intent_id, _, kind, amount, withdraw_all, _, _ in mine:
            if kind == IntentKind.WITHDRAWAL and not waiting:
                everything = plan.withdraw(intent_id, amount, withdraw_all) or everything
        if not everything:
            for intent_id, _, kind, _, _, _, slice_id in mine:
                if kind == IntentKind.REMOVAL:
                    plan.remove(intent_id, slice_id)
            for intent_id, _, kind, _, _, pie_id, _ in mine:
                if kind == IntentKind.REBALANCE:
                    plan.rebalance(intent_id, pie_id)
            plan.auto_invest_cash(trigger, "deposit" if deposited else "auto_invest")
        orders.extend(plan.orders())
        outcomes.update(plan.outcome.intents)
        for intent_id, amount in plan.outcome.deposits:
            ledger.append((account_id, amount, "deposit", f"intent:{intent_id}", intent_id))
            ledger.append(
                (run.system.external, -amount, "deposit", f"intent:{intent_id}", intent_id)
            )

    return orders, outcomes, ledger
