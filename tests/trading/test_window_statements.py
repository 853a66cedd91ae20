"""The SQL a window runs is a + b x chunks: a fixed number per window, a fixed number per
chunk of accounts, nothing per account (performance.md, section 2)."""

from __future__ import annotations

import pytest
from django.db import connection

from bench.trade_window import generate
from tests.trading.engine_helpers import statement_counter
from trading.books import verify_books
from trading.models import TradeWindow
from trading.window import open_adhoc_window, run_window

CHUNK = 100
A_BUDGET = 40  # performance.md, section 2: a <= 40, b <= 15
B_BUDGET = 15


def _statements(seen: list[str]) -> int:
    """The statements a window sends, without the test's savepoints (each phase's transaction
    is a savepoint inside the test's own, where a real run sends BEGIN and COMMIT, which no
    execute wrapper sees) and without the staging tables' creation (a real session creates
    them once, before its first chunk, and never again: see the test below; inside the test's
    transaction it cannot remember them, so it creates them again before every chunk)."""
    return sum(
        1
        for sql in seen
        if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "CREATE TEMP TABLE"))
    )


def statements_for(accounts: int) -> tuple[int, dict]:
    generate(accounts=accounts, slices=6, seed=accounts, securities=40)
    window = open_adhoc_window()
    seen, wrapper = statement_counter()
    with connection.execute_wrapper(wrapper):
        report = run_window(window.pk, chunk_size=CHUNK)
    assert TradeWindow.objects.get(pk=window.pk).status == "done"
    assert report["accounts"] == accounts
    return _statements(seen), report


@pytest.fixture
def per_window_and_chunk(db) -> tuple[int, int]:
    """(a, b) measured on 1 and 2 chunks."""
    one, _ = statements_for(CHUNK)
    two, _ = statements_for(2 * CHUNK)
    return 2 * one - two, two - one


def test_a_window_costs_a_fixed_number_of_statements_plus_a_fixed_number_per_chunk(
    per_window_and_chunk,
):
    a, b = per_window_and_chunk
    assert 0 < a <= A_BUDGET
    assert 0 < b <= B_BUDGET
    # plan: 3 reads, 2 COPYs (orders, ledger), 1 apply; post: 3 reads (orders come with their
    # open lots), 3 COPYs (fills, disposals, ledger), 1 apply; each then finishes (1)
    assert b == (6 + 1) + (7 + 1), b
    count, report = statements_for(3 * CHUNK)
    assert count == a + b * 3
    assert report["counts"]["orders"]["filled"] > 3 * CHUNK  # real work in every chunk
    assert verify_books() == []


@pytest.mark.slow
def test_two_thousand_accounts_take_the_same_statements_per_chunk(per_window_and_chunk):
    a, b = per_window_and_chunk
    count, _ = statements_for(2000)
    assert count == a + b * 20
    assert verify_books() == []


@pytest.mark.django_db(transaction=True)
def test_a_session_creates_its_staging_tables_once_before_its_first_chunk():
    generate(accounts=3 * CHUNK, slices=6, seed=7, securities=40)
    seen, wrapper = statement_counter()
    with connection.execute_wrapper(wrapper):
        for _ in range(2):
            window = open_adhoc_window()
            # one thread, one session (each chunk thread has a session of its own)
            assert run_window(window.pk, chunk_size=CHUNK, threads=1)["status"] == "done"
    created = [sql for sql in seen if sql.startswith("CREATE TEMP TABLE")]
    assert len(created) == 1, created
    assert created[0].count("CREATE TEMP TABLE IF NOT EXISTS trading_stage_") == 5
    assert verify_books() == []
