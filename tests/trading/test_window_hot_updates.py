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


# Each index of the intents' table with its predicate ('' for none).
_INTENT_INDEXES = """
SELECT i.relname, COALESCE(pg_get_expr(x.indpred, x.indrelid), '')
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = 'trading_intent'::regclass
"""


def test_an_intent_has_an_index_entry_for_its_pie_or_schedule_only_when_it_has_one():
    """An intent's updates by a window (bound, then done) are not HOT: each writes the intent
    again into every index that holds it (trading migration 0022). A deposit has no pie and no
    schedule, so those indexes hold only the intents that have one; the unique pending
    rebalance per pie, on the same column, stays."""
    with connection.cursor() as cursor:
        cursor.execute(_INTENT_INDEXES)
        predicates = dict(cursor.fetchall())
    assert predicates["intent_pie"] == "(pie_id IS NOT NULL)"
    assert predicates["one_intent_per_occurrence"] == "(schedule_id IS NOT NULL)"
    assert "one_pending_rebalance_per_pie" in predicates
    assert not [name for name, where in predicates.items() if "pie_id" in name and not where]
