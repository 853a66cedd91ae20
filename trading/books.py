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


def verify_books() -> list[str]:
    """Every violation of the books' invariants, as readable lines; [] when all hold."""
    violations: list[str] = []
    with connection.cursor() as cursor:
        for sql, message in _CHECKS:
            cursor.execute(sql)
            violations.extend(message.format(*row) for row in cursor.fetchall())
    return violations
