"""Phase 6, post: a chunk's fills written to the books; then the window's residues and report.

A chunk is one transaction (``trading.window.chunks``): three reads (the chunk claimed with its
accounts; orders, each sell with its position's open lots; intents), three binary COPYs into
the staging tables (fills, disposals, ledger entries), one statement applying them (orders
filled, lots opened and consumed, disposals, ledger entries, customers' cash, positions, intents
done, removed slices; it returns the orders for slices no longer in their pie, which fail the
chunk), and the statement that ends every chunk (``chunks.finish``: the system accounts' cash,
the chunk marked done and the window's heartbeat): eight in all.

``close`` runs once, after every chunk: per block, what the accounts got (shares and cash) is
compared with what the block delivered (the broker's shares and cash), and the house account
takes the difference, so that for every block

    buyer shares - seller shares + house_quantity = +/- net_quantity (the broker's shares)
    buyer cash - seller cash = settlement_amount + house_cash (the broker's cash)

The house's shares are held in a position without a slice, as zero-cost lots; its cash comes
from CLEARING, which then nets to zero for the window. The formulas of allocation.md leave
only what their floors leave (shares S + q - buyer shares in a net buy; cents N - c, and the
pool less the seller proceeds): both residues are zero or positive for any fill the window
accepts, so the house never needs capital of its own.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import transaction

from trading.lots import OpenLot
from trading.models import ChunkPhase, OrderStatus, WindowStatus
from trading.window.allocate import BlockTerms, FundingError, OrderRow, Settlement, Withdrawal
from trading.window.chunks import CLAIMED_CTE, Claim, finish, phase_totals
from trading.window.common import (
    LEDGER_CTES,
    SYSTEM_DELTAS,
    Run,
    dump_json,
    fetch,
    in_chunk_transaction,
    load_json,
    statuses,
)
from trading.window.staging import DISPOSALS, FILLS, LEDGER, copy_rows, take

# The chunk claimed, and its accounts with the lot method frozen with the window.
_ACCOUNTS = f"""
WITH {CLAIMED_CTE}
SELECT c.number, c.at, a.id, a.cash, COALESCE(wa.lot_method, a.lot_method)
FROM claimed c
JOIN trading_windowaccount wa ON wa.window_id = %(window)s AND wa.chunk = c.number
JOIN trading_account a ON a.id = wa.account_id
"""
# The chunk's orders, account by account (a nested loop of index probes whatever the planner
# thinks: the window's orders were just written and have no statistics yet, so it takes
# "window = this one" for a few rows and would read all of the window's orders for each chunk);
# each sell with the open lots of its position (parallel arrays, NULL for a buy, whose lots are
# never probed: the filter names only the order). The four aggregates of one row take the same
# lots in the same order (one pass, none sorting on its own), which is all the arrays need: the
# lot method ranks the lots itself. An ORDER BY in each would sort every order's lots four
# times, which made this read half as slow again as two reads (measured: 120 ms against 85 ms a
# 5,000-account chunk; 93 ms without).
_ORDERS = """
    SELECT o.id, o.account_id, o.position_id, o.security_id, o.side, o.amount, o.quantity,
           lots.ids, lots.acquired_on, lots.quantities, lots.costs
    FROM unnest(%(accounts)s::bigint[]) AS a(id)
    CROSS JOIN LATERAL (
        SELECT * FROM trading_order o
        WHERE o.account_id = a.id AND o.window_id = %(window)s AND o.status = %(planned)s
        OFFSET 0  -- kept a subquery: probed per account
    ) o
    CROSS JOIN LATERAL (
        SELECT array_agg(l.id) AS ids, array_agg(l.acquired_on) AS acquired_on,
               array_agg(l.remaining_quantity) AS quantities, array_agg(l.remaining_cost) AS costs
        FROM trading_lot l
        WHERE o.side = %(sell)s AND l.position_id = o.position_id AND l.remaining_quantity > 0
    ) lots
    ORDER BY o.account_id, o.id
"""
_INTENTS = """
    SELECT t.id, t.account_id, t.kind, t.amount, t.withdraw_all, t.slice_id
    FROM trading_intent t
    WHERE t.account_id = ANY(%(accounts)s::bigint[]) AND t.window_id = %(window)s
      AND t.status = %(pending)s
    ORDER BY t.created_at, t.id
"""
# Accounts (of those given) that keep shares worth a cent or more at the window price after
# this window's planned sells: a withdrawal of theirs had no reason to be paid short.
_KEEP_SHARES = """
    SELECT DISTINCT p.account_id
    FROM trading_position p
    JOIN unnest(%(securities)s::bigint[], %(prices)s::numeric[]) AS lp(security_id, price)
        ON lp.security_id = p.security_id
    LEFT JOIN (
        SELECT position_id, SUM(quantity) AS sold FROM trading_order
        WHERE window_id = %(window)s AND account_id = ANY(%(accounts)s)
          AND side = %(sell)s AND status = %(planned)s
        GROUP BY position_id
    ) s ON s.position_id = p.id
    WHERE p.account_id = ANY(%(accounts)s) AND p.slice_id IS NOT NULL
      AND (p.quantity - COALESCE(s.sold, 0)) * lp.price >= 0.01
"""
# The chunk's whole effect, from its staged rows (``trading.window.staging``), in one statement.
# Every CTE runs once on one snapshot, so a row is written by one CTE only; a position's new
# quantity is its old one plus its move.
_APPLY = f"""
WITH RECURSIVE
    -- the orders as allocated: their shares, price and cash
    fills AS ({take(FILLS)}),
    filled AS (
        UPDATE trading_order o
        SET status = %(filled)s, quantity = f.quantity, price = f.price,
            filled_amount = f.filled_amount
        FROM fills f WHERE o.id = f.order_id
        RETURNING 1
    ),
    -- a buy that got shares opens a lot at what it paid
    new_lots AS (
        INSERT INTO trading_lot (position_id, order_id, acquired_on, quantity,
            remaining_quantity, cost_basis, remaining_cost)
        SELECT position_id, order_id, %(day)s, quantity, quantity, filled_amount, filled_amount
        FROM fills WHERE side = %(buy)s AND quantity > 0
        RETURNING 1
    ),
    -- each position moves by its buys' shares less its sells' shares
    moves AS (
        SELECT position_id, SUM(CASE WHEN side = %(buy)s THEN quantity ELSE -quantity END) AS delta
        FROM fills GROUP BY position_id
    ),
    positions AS (
        UPDATE trading_position p SET quantity = p.quantity + m.delta
        FROM moves m WHERE p.id = m.position_id AND m.delta <> 0
        RETURNING 1
    ),
    -- the lots the sells consumed: a disposal each, and what the lot has left
    consumed AS ({take(DISPOSALS)}),
    lots AS (
        UPDATE trading_lot l
        SET remaining_quantity = c.lot_remaining_quantity, remaining_cost = c.lot_remaining_cost
        FROM consumed c WHERE l.id = c.lot_id
        RETURNING 1
    ),
    disposals AS (
        INSERT INTO trading_disposal (lot_id, order_id, account_id, security_id, acquired_on,
            sold_on, quantity, proceeds, cost_basis, gain, term)
        SELECT lot_id, order_id, account_id, security_id, acquired_on, %(day)s, quantity,
            proceeds, cost, gain, term
        FROM consumed
        RETURNING 1
    ),
    {LEDGER_CTES},
    -- withdrawals paid (a short payment's note; a reason it waited is history once done)
    intents_done AS (
        UPDATE trading_intent t SET status = %(done)s, finished_at = statement_timestamp(),
            amount_paid = u.paid, failure_reason = COALESCE(u.note, '')
        FROM unnest(%(intents)s::bigint[], %(paid)s::numeric[], %(notes)s::text[])
            AS u(id, paid, note)
        WHERE t.id = u.id AND t.status = %(pending)s
        RETURNING 1
    ),
    -- a removing slice with no shares left after this window is removed for good, with
    -- everything below it when it is a sub-pie
    removal_tree(root, id, child_pie_id) AS (
        SELECT s.id, s.id, s.child_pie_id
        FROM pies_slice s JOIN unnest(%(removals)s::bigint[]) AS u(id) ON s.id = u.id
        WHERE s.status = %(removing)s
        UNION ALL
        SELECT t.root, c.id, c.child_pie_id
        FROM removal_tree t JOIN pies_slice c
            ON c.pie_id = t.child_pie_id AND c.status <> %(removed)s
    ),
    still_held AS (
        SELECT DISTINCT t.root
        FROM removal_tree t JOIN trading_position p ON p.slice_id = t.id
        LEFT JOIN moves m ON m.position_id = p.id
        WHERE p.quantity + COALESCE(m.delta, 0) > 0
    ),
    removed AS (
        UPDATE pies_slice s SET status = %(removed)s, target_bp = 0
        FROM removal_tree t
        WHERE s.id = t.id AND t.root NOT IN (SELECT root FROM still_held)
        RETURNING 1
    ),
    -- Post writes only onto slices that are part of the pie (active, or removing: being
    -- sold). A window owns its accounts, so no pie save can remove a slice under it
    -- (trading.ownership); should one ever be gone anyway, the caller raises and the chunk's
    -- transaction takes all of this back.
    off_pie AS (
        SELECT f.order_id, s.id AS slice_id, s.status
        FROM fills f
        JOIN trading_position p ON p.id = f.position_id
        JOIN pies_slice s ON s.id = p.slice_id
        WHERE s.status NOT IN (%(active)s, %(removing)s)
    )
SELECT (SELECT COUNT(*) FROM filled), (SELECT COUNT(*) FROM new_lots),
       (SELECT COUNT(*) FROM disposals), (SELECT COUNT(*) FROM entries),
       (SELECT COALESCE(json_agg(off_pie ORDER BY order_id), '[]') FROM off_pie),
       {SYSTEM_DELTAS}
"""


class OffPieOrder(RuntimeError):
    """An order of the window is for a slice no longer in its pie: nothing is posted."""


class RecordedBlock(NamedTuple):
    """A block as execute recorded it (a row of ``_BLOCKS``)."""

    security_id: int
    net_side: str
    window_price: Decimal
    limit_price: Decimal | None
    sell_quantity: Decimal
    buy_amount: Decimal
    net_quantity: Decimal
    settlement_amount: Decimal


_BLOCKS = """
    SELECT security_id, net_side, window_price, limit_price, sell_quantity, buy_amount,
           net_quantity, settlement_amount
    FROM trading_blockorder WHERE window_id = %(window)s
"""


def load_blocks(run: Run) -> dict[int, BlockTerms]:
    """Per security, the terms allocation computes every account's result from."""
    blocks = [RecordedBlock(*row) for row in fetch(_BLOCKS, {"window": run.window_id})]
    return {
        block.security_id: BlockTerms(
            side=block.net_side,
            window_price=block.window_price,
            limit_price=block.limit_price,
            sell_quantity=block.sell_quantity,
            buy_amount=block.buy_amount,
            broker_quantity=block.net_quantity,
            broker_cash=abs(block.settlement_amount),
        )
        for block in blocks
    }


def _check_short_withdrawals(run: Run, book: Settlement) -> None:
    """A withdrawal of an amount paid short is only right for an account that sold every share
    (allocation.md, Execution); anything else is a broken guarantee: stop the window."""
    shorts = book.short_withdrawals
    if not shorts:
        return
    kept = fetch(
        _KEEP_SHARES,
        {
            **statuses(),
            "window": run.window_id,
            "accounts": sorted({account for account, *_ in shorts}),
            "securities": list(run.prices),
            "prices": list(run.prices.values()),
        },
    )
    if kept:
        account, intent, asked, paid = next(row for row in shorts if row[0] == kept[0][0])
        raise FundingError(
            f"Withdrawal {intent} of account {account} would be paid {paid:,.2f} of "
            f"{asked:,.2f} while the account keeps shares: the plan guarantees it in full."
        )


def post_chunk(run: Run, blocks: dict[int, BlockTerms]) -> Claim | None:
    """Claim a chunk of the window's post and do it, in one transaction; None when no chunk is
    left to claim (all done, or being done by others)."""
    return in_chunk_transaction(lambda: _post_claimed(run, blocks))


def _post_claimed(run: Run, blocks: dict[int, BlockTerms]) -> Claim | None:
    """``post_chunk``'s work, in its transaction."""
    rows = fetch(_ACCOUNTS, {"window": run.window_id, "phase": ChunkPhase.POST})
    claim = Claim.of(ChunkPhase.POST, rows)
    if claim is None:
        return None
    with claim.timed("read"):
        accounts = [row[2:] for row in rows]
        ids = [row[0] for row in accounts]
        chunk_params = {"accounts": ids, "window": run.window_id, **statuses()}
        orders: list[OrderRow] = []
        lots: dict[int, list[OpenLot]] = {}  # a selling position's open lots
        for *fields, lot_ids, acquired_on, quantities, costs in fetch(_ORDERS, chunk_params):
            orders.append(order := OrderRow(*fields))
            if lot_ids:
                lots[order.position_id] = [
                    OpenLot(*lot)
                    for lot in zip(lot_ids, acquired_on, quantities, costs, strict=True)
                ]
        intents = fetch(_INTENTS, chunk_params)

    with claim.timed("allocate"):
        orders_of: dict[int, list[OrderRow]] = {}
        for order in orders:
            orders_of.setdefault(order.account_id, []).append(order)
        withdrawals_of: dict[int, list[Withdrawal]] = {}
        removals: list[int] = []
        withdraw_all: set[int] = set()
        for intent_id, account_id, kind, amount, everything, slice_id in intents:
            if kind == "withdrawal":
                withdrawals_of.setdefault(account_id, []).append(
                    Withdrawal(intent_id, amount, everything)
                )
                if everything:
                    withdraw_all.add(intent_id)
            elif kind == "removal" and slice_id is not None:
                removals.append(slice_id)
        book = Settlement(run.window_id, run.trade_date, run.system)
        for account_id, cash, lot_method in accounts:
            book.settle_account(
                account_id=account_id,
                cash=cash,
                lot_method=lot_method,
                orders=orders_of.get(account_id, []),
                lots=lots,
                withdrawals=withdrawals_of.get(account_id, []),
                blocks=blocks,
            )
        # Only a fixed amount must be checked: a withdrawal of all pays what there is.
        book.short_withdrawals = [
            row for row in book.short_withdrawals if row[1] not in withdraw_all
        ]
        _check_short_withdrawals(run, book)

    claim.count("orders_filled", len(book.orders))
    claim.count("lots_opened", len(book.new_lots))
    claim.count("disposals", len(book.disposals))
    if book.short_withdrawals:
        claim.stats["short_withdrawals"] = [
            {"intent": intent, "amount": str(asked), "paid": str(paid)}
            for _, intent, asked, paid in book.short_withdrawals
        ]

    with claim.timed("write"):
        position_of = {order.id: (order.position_id, order.side) for order in orders}
        copy_rows(
            FILLS,
            (
                (order_id, *position_of[order_id], quantity, price, filled)
                for order_id, quantity, price, filled in book.orders
            ),
        )
        copy_rows(
            DISPOSALS,
            (
                (*disposal, remaining_quantity, remaining_cost)
                for disposal, (_, remaining_quantity, remaining_cost) in zip(
                    book.disposals, book.lot_updates, strict=True
                )
            ),
        )
        copy_rows(LEDGER, (row for row in book.ledger if row[1] != 0))
        [(*_, off_pie, system_accounts, system_deltas)] = fetch(
            _APPLY,
            {
                **statuses(),
                "window": run.window_id,
                "system": run.system.ids(),
                "day": run.trade_date,
                "intents": [row[0] for row in intents],
                "paid": [book.paid.get(row[0], (None, ""))[0] for row in intents],
                "notes": [book.paid.get(row[0], (None, ""))[1] for row in intents],
                "removals": removals,
            },
        )
    off_pie = json.loads(off_pie) if isinstance(off_pie, str) else off_pie
    if off_pie:  # raised inside the chunk's transaction: nothing of it is kept
        raise OffPieOrder(
            "Orders for slices no longer in their pie (order, slice, status): "
            + ", ".join(str(tuple(row.values())) for row in off_pie)
        )
    finish(run, claim, system_accounts, system_deltas)
    return claim


# Per block: the house takes what the accounts did not get (shares and cash); then its
# position, zero-cost lots, the residue entries (CLEARING -> HOUSE) and both cash balances.
# allocated: per security, the accounts' net shares and cash (buys +, sells -);
# blocks: each block's house share, the broker's side less what the accounts got;
# positions, lots: the house's shares, as zero-cost lots; entries, cash: the house's cash.
_RESIDUES = """
WITH allocated AS MATERIALIZED (  -- computed once: the blocks just written have no stats yet
    SELECT security_id,
           SUM(CASE WHEN side = %(buy)s THEN quantity ELSE -quantity END) AS shares,
           SUM(CASE WHEN side = %(buy)s THEN filled_amount ELSE -filled_amount END) AS cash
    FROM trading_order
    WHERE window_id = %(window)s AND status = %(filled)s
    GROUP BY security_id
),
blocks AS (
    UPDATE trading_blockorder b
    SET house_quantity = CASE WHEN b.net_side = %(sell)s THEN -b.net_quantity
                              ELSE b.net_quantity END - COALESCE(a.shares, 0),
        house_cash = COALESCE(a.cash, 0) - b.settlement_amount
    FROM trading_blockorder b2 LEFT JOIN allocated a ON a.security_id = b2.security_id
    WHERE b.id = b2.id AND b2.window_id = %(window)s
    RETURNING b.id, b.security_id, b.house_quantity, b.house_cash
),
positions AS (
    INSERT INTO trading_position (account_id, security_id, slice_id, quantity)
    SELECT %(house)s, security_id, NULL, house_quantity FROM blocks WHERE house_quantity > 0
    ON CONFLICT (account_id, security_id) WHERE slice_id IS NULL
    DO UPDATE SET quantity = trading_position.quantity + EXCLUDED.quantity
    RETURNING id, security_id
),
lots AS (
    INSERT INTO trading_lot (position_id, order_id, acquired_on, quantity, remaining_quantity,
        cost_basis, remaining_cost)
    SELECT p.id, NULL, %(day)s, b.house_quantity, b.house_quantity, 0, 0
    FROM positions p JOIN blocks b ON b.security_id = p.security_id
    RETURNING 1
),
entries AS (
    INSERT INTO trading_ledgerentry
        (account_id, amount, kind, reference, window_id, intent_id, dividend_id, created_at)
    SELECT side.account_id, side.sign * b.house_cash, %(residue)s,
           'window:' || %(window)s || ':block:' || b.id, %(window)s, NULL, NULL,
           statement_timestamp()
    FROM blocks b
    CROSS JOIN (VALUES (%(house)s::bigint, 1), (%(clearing)s::bigint, -1)) AS side(account_id, sign)
    WHERE b.house_cash <> 0
    RETURNING 1
),
cash AS (
    UPDATE trading_account a
    SET cash = a.cash + CASE WHEN a.id = %(house)s THEN t.total ELSE -t.total END
    FROM (SELECT COALESCE(SUM(house_cash), 0) AS total FROM blocks) t
    WHERE a.id IN (%(house)s, %(clearing)s) AND t.total <> 0
    RETURNING 1
)
SELECT COUNT(*), COALESCE(SUM(house_quantity), 0), COALESCE(SUM(house_cash), 0),
       (SELECT COUNT(*) FROM lots), (SELECT COUNT(*) FROM entries), (SELECT COUNT(*) FROM cash)
FROM blocks
"""


class Residues(NamedTuple):
    """What ``_RESIDUES`` did: the house's share of the window's blocks."""

    blocks: int
    house_shares: Decimal
    house_cash: Decimal
    lots: int
    entries: int
    accounts: int  # cash balances moved (the house's and CLEARING's, or none)


class Counts(NamedTuple):
    """The window's rows, for its report (a row of ``_COUNTS``)."""

    accounts: int
    intents: Any  # {status: count}, jsonb as the cursor reads it
    orders: Any  # {status: count}
    blocks: int
    fills: int
    crossed: Decimal  # shares crossed at the window price, over all blocks


_COUNTS = """
SELECT
    (SELECT COUNT(*) FROM trading_windowaccount WHERE window_id = %(window)s),
    (SELECT COALESCE(jsonb_object_agg(status, n), '{}'::jsonb) FROM (
        SELECT status, COUNT(*) AS n FROM trading_intent WHERE window_id = %(window)s
        GROUP BY status) i),
    (SELECT COALESCE(jsonb_object_agg(status, n), '{}'::jsonb) FROM (
        SELECT status, COUNT(*) AS n FROM trading_order WHERE window_id = %(window)s
        GROUP BY status) o),
    (SELECT COUNT(*) FROM trading_blockorder WHERE window_id = %(window)s),
    (SELECT COUNT(*) FROM trading_fill f JOIN trading_blockorder b ON b.id = f.block_id
        WHERE b.window_id = %(window)s),
    (SELECT COALESCE(SUM(crossed_quantity), 0) FROM trading_blockorder
        WHERE window_id = %(window)s)
"""


# The window done, with its report; its phase is "done" too.
_DONE = """
UPDATE trading_tradewindow
SET status = %(window_done)s, phase = %(window_done)s, report = %(report)s::jsonb,
    timings = %(timings)s::jsonb, progress = %(progress)s::jsonb, finished_at = clock_timestamp(),
    heartbeat_at = clock_timestamp(), error = ''
WHERE id = %(window)s
RETURNING 1
"""


def close(run: Run, *, late_seconds: int | None) -> dict[str, Any]:
    """Residues to the house, the report, status done: one transaction."""
    params = {
        **statuses(),
        "window": run.window_id,
        "house": run.system.house,
        "clearing": run.system.clearing,
        "day": run.trade_date,
    }
    with transaction.atomic():
        [residues] = [Residues(*row) for row in fetch(_RESIDUES, params)]
        [counts] = [Counts(*row) for row in fetch(_COUNTS, params)]
        intents, orders = load_json(counts.intents), load_json(counts.orders)
        totals = phase_totals(run)
        plan_stats, post_stats = totals["plan"].stats, totals["post"].stats
        report: dict[str, Any] = {
            "window": run.window_id,
            "status": WindowStatus.DONE.value,
            "session": run.session,
            "trade_date": run.trade_date.isoformat(),
            "accounts": counts.accounts,
            "intents": sum(intents.values()),
            "orders": orders.get(OrderStatus.FILLED.value, 0),
            "blocks": counts.blocks,
            "fills": counts.fills,
            "counts": {
                "accounts": counts.accounts,
                "intents": intents,
                "orders": orders,
                "blocks": counts.blocks,
                "fills": counts.fills,
                "deposits_credited": plan_stats.get("deposits", 0),
                "lots_opened": post_stats.get("lots_opened", 0),
                "disposals": post_stats.get("disposals", 0),
            },
            "crossed_shares": str(counts.crossed),
            "house": {"shares": str(residues.house_shares), "cash": str(residues.house_cash)},
            "skipped": {
                "no_price": [
                    {"symbol": symbol, **entry}
                    for symbol, entry in sorted(plan_stats.get("waiting", {}).items())
                ],
                "removals_waiting": plan_stats.get("released", 0),
                # accounts an unfinished (running or failed) window still owns: they wait
                "accounts_held_by_unfinished_windows": run.progress.get(
                    "held_by_unfinished_windows", 0
                ),
            },
            "failed_intents": plan_stats.get("intents_failed", 0),
            "short_withdrawals": post_stats.get("short_withdrawals", []),
            "timings": {phase: round(seconds, 4) for phase, seconds in run.timings.items()},
            # per phase: its chunks, how many processes did them, their time added up
            "chunks": {phase: total.summary() for phase, total in totals.items()},
            "attempts": run.progress.get("attempts", 1),
        }
        if late_seconds:
            report["late_seconds"] = late_seconds
        run.progress["close"] = True
        fetch(
            _DONE,
            {
                **params,
                "report": dump_json(report),
                "timings": dump_json(report["timings"]),
                "progress": dump_json(run.progress),
            },
        )
    return report
