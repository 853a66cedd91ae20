"""The books' invariants (product.md, "The books"), checked set-based in a handful of queries.

``verify_books()`` returns one readable line per violation (an empty list: the books are
right). The block invariants are checked for finished windows only: a running window has
blocks whose allocation is still being posted.

For every block of a done window (allocation.md, Execution; shares signed: + bought, - sold):
- netting:    the side is decided by shares: a net buy has more planned buy shares than sell
              shares S; a net sell sends the broker S - buy shares (zero when crossed in full);
              crossed_quantity = min(buy_quantity, sell_quantity);
- execution:  the broker's fills (every fill but the internal cross) sum to net_quantity;
- shares:     buyer shares - seller shares + house_quantity = broker shares (+ bought,
              - sold), i.e. what the accounts got plus the house residue is exactly what the
              block delivered;
- cash:       buyer cash - seller cash = broker cash (settlement_amount: + paid to it,
              - received from it) + house_cash;
- residues:   house_quantity and house_cash are never negative (the house takes only what the
              floors leave).

Every other window state is checked too (``_WINDOW_STATE_CHECKS``, product.md Trade windows):
- abandoned: nothing left behind: every order cancelled, no block, no intent bound to it, and
  per account its ledger entries (the plan's and their reversals) sum to zero;
- running or failed, as far as it got: per block and side, the shares posted to accounts are
  at most the shares the block delivered (crossed + the broker's); the clearing account holds
  exactly the unposted amounts (its entries for the window = the orders posted - the broker
  settlement); once every order is posted, no block leaves the house a negative residue
  (such a window could never close);
- a running or failed window that shares an account with a window frozen after it was
  bypassed (possible only before windows owned their accounts): reported with that reason.

How the database checks the books' keys. A window writes hundreds of thousands of orders,
ledger entries, lots and disposals, and a foreign key checks each row with a query of its own,
at commit: a sixth of a 100,000-account window's time, measured. So the keys of those tables
(and of a window's account rows) have no foreign-key constraint; triggers check them per
statement instead (trading migration 0019): after an INSERT, one query finds every key of the
statement's new rows in its parent and locks those parent rows FOR KEY SHARE until commit, as
a foreign key would; a parent's DELETE (or change of id) is refused while a row names it. The
models still say ``PROTECT``, so Django refuses such a delete before it is sent.

``_KEY_CHECKS`` check what no foreign key ever did: that the keys which only repeat another
row's agree with it (an order's account and security are its position's; a disposal's are its
lot's position's); and, as a second line of defence (rows restored with triggers disabled),
that the writing window exists.
"""

from __future__ import annotations

from django.db import connection

_CHECKS: list[tuple[str, str]] = [
    (
        "SELECT COALESCE(SUM(amount), 0) FROM trading_ledgerentry HAVING COALESCE(SUM(amount), 0) <> 0",
        "the ledger sums to {0}, not zero",
    ),
    (
        """
        SELECT a.id, a.kind, a.cash, COALESCE(l.total, 0)
        FROM trading_account a
        LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM trading_ledgerentry
                   GROUP BY account_id) l ON l.account_id = a.id
        WHERE a.cash <> COALESCE(l.total, 0)
           OR (a.cash < 0 AND a.kind NOT IN ('external', 'clearing'))
        ORDER BY a.id
        """,
        "account {0} ({1}): cash {2}, ledger sum {3} (must be equal and not negative)",
    ),
    (
        """
        SELECT p.id, p.account_id, p.quantity, COALESCE(l.total, 0)
        FROM trading_position p
        LEFT JOIN (SELECT position_id, SUM(remaining_quantity) AS total FROM trading_lot
                   WHERE remaining_quantity > 0 GROUP BY position_id) l ON l.position_id = p.id
        WHERE p.quantity <> COALESCE(l.total, 0) OR p.quantity < 0
        ORDER BY p.id
        """,
        "position {0} of account {1}: quantity {2}, open lots hold {3}",
    ),
    (
        """
        SELECT l.id, l.quantity, l.cost_basis, l.remaining_quantity, l.remaining_cost,
               COALESCE(d.quantity, 0), COALESCE(d.cost, 0)
        FROM trading_lot l
        LEFT JOIN (SELECT lot_id, SUM(quantity) AS quantity, SUM(cost_basis) AS cost
                   FROM trading_disposal GROUP BY lot_id) d ON d.lot_id = l.id
        WHERE l.remaining_cost + COALESCE(d.cost, 0) <> l.cost_basis
           OR l.remaining_quantity + COALESCE(d.quantity, 0) <> l.quantity
        ORDER BY l.id
        """,
        "lot {0}: quantity {1} and cost {2}, but remaining {3} / {4} plus disposals {5} / {6}",
    ),
    (
        """
        WITH allocated AS (
            SELECT window_id, security_id,
                   SUM(CASE WHEN side = 'buy' THEN quantity ELSE -quantity END) AS shares,
                   SUM(CASE WHEN side = 'buy' THEN filled_amount ELSE -filled_amount END) AS cash
            FROM trading_order WHERE status = 'filled'
            GROUP BY window_id, security_id
        ),
        broker AS (
            SELECT block_id, SUM(quantity) AS quantity FROM trading_fill
            WHERE broker_reference <> 'internal cross' GROUP BY block_id
        ),
        checked AS (
            SELECT b.id, b.window_id, b.security_id,
                   CASE b.net_side WHEN 'buy' THEN b.net_quantity
                                   WHEN 'sell' THEN -b.net_quantity ELSE 0 END AS net,
                   b.buy_quantity, b.sell_quantity, b.crossed_quantity, b.net_side,
                   b.net_quantity, b.house_quantity, b.settlement_amount, b.house_cash,
                   COALESCE(a.shares, 0) AS shares, COALESCE(a.cash, 0) AS cash,
                   COALESCE(f.quantity, 0) AS broker_quantity
            FROM trading_blockorder b
            JOIN trading_tradewindow w ON w.id = b.window_id AND w.status = 'done'
            LEFT JOIN allocated a ON a.window_id = b.window_id AND a.security_id = b.security_id
            LEFT JOIN broker f ON f.block_id = b.id
        )
        SELECT id, window_id, security_id, net_side, net, buy_quantity, sell_quantity,
               shares + house_quantity, cash, settlement_amount + house_cash, broker_quantity,
               crossed_quantity, house_quantity, house_cash
        FROM checked
        WHERE (net_side = 'buy' AND buy_quantity <= sell_quantity)
           OR (net_side <> 'buy' AND net_quantity <> sell_quantity - buy_quantity)
           OR crossed_quantity <> LEAST(buy_quantity, sell_quantity)
           OR shares + house_quantity <> net
           OR cash <> settlement_amount + house_cash
           OR broker_quantity <> net_quantity
           OR house_quantity < 0
           OR house_cash < 0
        ORDER BY id
        """,
        "block {0} (window {1}, security {2}): {3} of {4} shares, planned buy {5} / sell {6}; "
        "accounts + house {7}; cash {8} vs broker + house {9}; broker filled {10}; crossed "
        "{11}; house residues {12} shares, {13} cash (never negative)",
    ),
    (
        """
        SELECT e.window_id, SUM(e.amount)
        FROM trading_ledgerentry e
        JOIN trading_account a ON a.id = e.account_id AND a.kind = 'clearing'
        JOIN trading_tradewindow w ON w.id = e.window_id AND w.status = 'done'
        GROUP BY e.window_id HAVING SUM(e.amount) <> 0
        """,
        "window {0}: the clearing account does not net to zero ({1})",
    ),
]


# The windows that own accounts (trading.models.HOLDS_ACCOUNTS): they may be mid-way.
_UNFINISHED = "SELECT id, status FROM trading_tradewindow WHERE status IN ('running', 'failed')"

_WINDOW_STATE_CHECKS: list[tuple[str, str]] = [
    (
        """
        SELECT w.id, x.problem
        FROM trading_tradewindow w
        CROSS JOIN LATERAL (
            SELECT 'order ' || o.id || ' is ' || o.status
            FROM trading_order o WHERE o.window_id = w.id AND o.status <> 'cancelled'
            UNION ALL
            SELECT 'it has block ' || b.id FROM trading_blockorder b WHERE b.window_id = w.id
            UNION ALL
            SELECT 'intent ' || t.id || ' is still bound to it'
            FROM trading_intent t WHERE t.window_id = w.id
            UNION ALL
            SELECT 'the entries of account ' || e.account_id || ' sum to ' || SUM(e.amount)
            FROM trading_ledgerentry e WHERE e.window_id = w.id
            GROUP BY e.account_id HAVING SUM(e.amount) <> 0
        ) x(problem)
        WHERE w.status = 'abandoned'
        ORDER BY w.id
        """,
        "window {0} (abandoned): {1}; an abandoned window leaves nothing behind",
    ),
    (
        # posted: shares allocated to accounts so far; broker: the broker's fills (the
        # internal cross is crossed_quantity, on both sides).
        f"""
        WITH unfinished AS ({_UNFINISHED}),
        posted AS (
            SELECT o.window_id, o.security_id,
                   SUM(CASE WHEN o.side = 'buy' THEN o.quantity ELSE 0 END) AS bought,
                   SUM(CASE WHEN o.side = 'sell' THEN o.quantity ELSE 0 END) AS sold
            FROM trading_order o
            WHERE o.window_id IN (SELECT id FROM unfinished) AND o.status = 'filled'
            GROUP BY o.window_id, o.security_id
        ),
        broker AS (
            SELECT f.block_id,
                   SUM(CASE WHEN f.side = 'buy' THEN f.quantity ELSE 0 END) AS bought,
                   SUM(CASE WHEN f.side = 'sell' THEN f.quantity ELSE 0 END) AS sold
            FROM trading_fill f JOIN trading_blockorder b ON b.id = f.block_id
            WHERE b.window_id IN (SELECT id FROM unfinished)
              AND f.broker_reference <> 'internal cross'
            GROUP BY f.block_id
        )
        SELECT p.window_id, u.status, p.security_id, b.id, p.bought,
               b.crossed_quantity + COALESCE(f.bought, 0), p.sold,
               b.crossed_quantity + COALESCE(f.sold, 0)
        FROM posted p
        JOIN unfinished u ON u.id = p.window_id
        LEFT JOIN trading_blockorder b
            ON b.window_id = p.window_id AND b.security_id = p.security_id
        LEFT JOIN broker f ON f.block_id = b.id
        WHERE b.id IS NULL
           OR p.bought > b.crossed_quantity + COALESCE(f.bought, 0)
           OR p.sold > b.crossed_quantity + COALESCE(f.sold, 0)
        ORDER BY p.window_id, p.security_id
        """,
        "window {0} ({1}), security {2}, block {3}: posted buys {4} of {5} shares delivered, "
        "posted sells {6} of {7} (shares allocated are at most shares filled)",
    ),
    (
        f"""
        WITH unfinished AS ({_UNFINISHED}),
        clearing AS (
            SELECT e.window_id, SUM(e.amount) AS total
            FROM trading_ledgerentry e
            JOIN trading_account a ON a.id = e.account_id AND a.kind = 'clearing'
            WHERE e.window_id IN (SELECT id FROM unfinished)
            GROUP BY e.window_id
        ),
        posted AS (
            SELECT window_id,
                   SUM(CASE WHEN side = 'buy' THEN filled_amount ELSE -filled_amount END) AS cash
            FROM trading_order
            WHERE window_id IN (SELECT id FROM unfinished) AND status = 'filled'
            GROUP BY window_id
        ),
        settled AS (
            SELECT window_id, SUM(settlement_amount + house_cash) AS cash
            FROM trading_blockorder WHERE window_id IN (SELECT id FROM unfinished)
            GROUP BY window_id
        )
        SELECT u.id, u.status, COALESCE(c.total, 0), COALESCE(p.cash, 0) - COALESCE(s.cash, 0)
        FROM unfinished u
        LEFT JOIN clearing c ON c.window_id = u.id
        LEFT JOIN posted p ON p.window_id = u.id
        LEFT JOIN settled s ON s.window_id = u.id
        WHERE COALESCE(c.total, 0) <> COALESCE(p.cash, 0) - COALESCE(s.cash, 0)
        ORDER BY u.id
        """,
        "window {0} ({1}): the clearing account holds {2} for it, but the orders posted less "
        "the broker settlement come to {3} (it holds exactly the unposted amounts)",
    ),
    (
        f"""
        WITH unfinished AS ({_UNFINISHED}),
        posted AS (
            SELECT window_id, security_id,
                   SUM(CASE WHEN side = 'buy' THEN filled_amount ELSE -filled_amount END) AS cash
            FROM trading_order
            WHERE window_id IN (SELECT id FROM unfinished) AND status = 'filled'
            GROUP BY window_id, security_id
        )
        SELECT u.id, u.status, b.id, b.security_id,
               COALESCE(p.cash, 0) - b.settlement_amount
        FROM unfinished u
        JOIN trading_blockorder b ON b.window_id = u.id
        LEFT JOIN posted p ON p.window_id = u.id AND p.security_id = b.security_id
        WHERE NOT EXISTS (
                SELECT 1 FROM trading_order o WHERE o.window_id = u.id AND o.status = 'planned')
          AND COALESCE(p.cash, 0) - b.settlement_amount < 0
        ORDER BY u.id, b.id
        """,
        "window {0} ({1}): every order is posted, but block {2} (security {3}) would leave "
        "the house {4}: residues are never negative, so it can never close",
    ),
    (
        # Windows own their accounts from their freeze until they are done; two windows that
        # planned one account while the first was not done mean it was bypassed.
        f"""
        WITH unfinished AS ({_UNFINISHED})
        SELECT w.id, u.status, v.id, v.status, COUNT(*), MIN(wa.account_id)
        FROM unfinished u
        JOIN trading_tradewindow w ON w.id = u.id
        JOIN trading_windowaccount wa ON wa.window_id = w.id
        JOIN trading_windowaccount va
            ON va.account_id = wa.account_id AND va.window_id <> wa.window_id
        JOIN trading_tradewindow v ON v.id = va.window_id
        WHERE v.status <> 'abandoned'
          AND COALESCE((v.progress ->> 'frozen_at')::timestamptz, v.started_at)
            > COALESCE((w.progress ->> 'frozen_at')::timestamptz, w.started_at)
        GROUP BY w.id, u.status, v.id, v.status
        ORDER BY w.id, v.id
        """,
        "window {0} ({1}) still owns {4} account(s) (first: account {5}) that window {2} "
        "({3}), frozen after it, planned as well: it was bypassed (before windows owned "
        "their accounts). Review those accounts, then retry it, or abandon it if it has no fill",
    ),
]


# Keys without a foreign-key constraint in the database (the module's docstring says why).
_KEY_CHECKS: list[tuple[str, str]] = [
    (
        """
        SELECT o.id, o.account_id, o.security_id, o.window_id, p.account_id, p.security_id
        FROM trading_order o
        JOIN trading_position p ON p.id = o.position_id
        LEFT JOIN trading_tradewindow w ON w.id = o.window_id
        WHERE o.account_id <> p.account_id OR o.security_id <> p.security_id OR w.id IS NULL
        ORDER BY o.id
        """,
        "order {0} (account {1}, security {2}, window {3}): its position is account {4}'s "
        "in security {5}, and its window must exist",
    ),
    (
        """
        SELECT d.id, d.account_id, d.security_id, p.account_id, p.security_id
        FROM trading_disposal d
        JOIN trading_lot l ON l.id = d.lot_id
        JOIN trading_position p ON p.id = l.position_id
        WHERE d.account_id <> p.account_id OR d.security_id <> p.security_id
        ORDER BY d.id
        """,
        "disposal {0} (account {1}, security {2}): its lot is account {3}'s in security {4}",
    ),
    (
        """
        SELECT e.id, e.window_id
        FROM trading_ledgerentry e LEFT JOIN trading_tradewindow w ON w.id = e.window_id
        WHERE e.window_id IS NOT NULL AND w.id IS NULL
        ORDER BY e.id
        """,
        "ledger entry {0} names window {1}, which does not exist",
    ),
]


def verify_books() -> list[str]:
    """Every violation of the books' invariants, as readable lines; [] when all hold."""
    violations: list[str] = []
    with connection.cursor() as cursor:
        for sql, message in [*_CHECKS, *_KEY_CHECKS, *_WINDOW_STATE_CHECKS]:
            cursor.execute(sql)
            violations.extend(message.format(*row) for row in cursor.fetchall())
    return violations
