"""A window's updates of its orders and positions are HOT: each new row version stays on its
page and writes no index entry (trading migration 0020: the tables' pages leave room for it).
At 70% full, fewer than half of the orders' updates were HOT, and each of the others wrote an
entry in all six of the table's indexes."""

from __future__ import annotations

import pytest
from django.db import connection

from bench.trade_window import generate
from trading.books import verify_books
from trading.window import open_adhoc_window, run_window

pytestmark = pytest.mark.django_db

# This transaction's own updates per table (the test's transaction holds the whole window).
_UPDATES = """
SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables
WHERE relname IN ('trading_order', 'trading_position')
"""


def test_a_windows_updates_of_orders_and_positions_stay_on_their_pages():
    generate(accounts=400, slices=10, seed=5, securities=40)
    window = open_adhoc_window()
    with connection.cursor() as cursor:
        cursor.execute(_UPDATES)
        before = {table: (updated, hot) for table, updated, hot in cursor.fetchall()}
    run_window(window.pk)
    assert verify_books() == []
    with connection.cursor() as cursor:
        cursor.execute(_UPDATES)
        after = {table: (updated, hot) for table, updated, hot in cursor.fetchall()}
    for table in ("trading_order", "trading_position"):
        updated = after[table][0] - before.get(table, (0, 0))[0]
        hot = after[table][1] - before.get(table, (0, 0))[1]
        assert updated > 1000, table  # enough rows to fill pages
        assert hot >= 0.9 * updated, f"{table}: {hot} of {updated} updates HOT"
