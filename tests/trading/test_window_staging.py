"""The staging tables the window COPYs into (trading.window.staging): a session's own, as the
engine describes them, and no row outlives the chunk that staged it."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from bench.trade_window import generate
from trading.books import verify_books
from trading.window import open_adhoc_window, run_window
from trading.window.common import WindowFault
from trading.window.staging import LEDGER, STAGES, copy_rows, ensure_stages

pytestmark = pytest.mark.django_db


def staged_rows() -> dict[str, int]:
    ensure_stages()
    counts = {}
    with connection.cursor() as cursor:
        for stage in STAGES:
            cursor.execute(f"SELECT COUNT(*) FROM {stage.table}")
            counts[stage.table] = cursor.fetchone()[0]
    return counts


def test_the_staging_tables_have_the_columns_the_engine_copies():
    ensure_stages()
    with connection.cursor() as cursor:
        for stage in STAGES:
            cursor.execute(
                """
                SELECT column_name, data_type FROM information_schema.columns
                WHERE table_name = %s AND table_schema LIKE 'pg_temp%%'
                ORDER BY ordinal_position
                """,
                [stage.table],
            )
            assert cursor.fetchall() == [(n, k) for n, k in stage.columns], stage.table
            cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = %s", [stage.table])
            # temporary (no WAL, the session's own), none left in the shared schema
            assert cursor.fetchall() == [("t",)]


def test_a_window_leaves_the_staging_tables_empty_even_after_a_failed_chunk():
    generate(accounts=30, slices=6, seed=3, securities=20)
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, chunk_size=10, fail_after_chunk=4)  # 3 plan chunks, then a post
    assert set(staged_rows().values()) == {0}
    report = run_window(window.pk, chunk_size=10)
    assert report["status"] == "done" and report["accounts"] == 30
    assert set(staged_rows().values()) == {0}
    assert verify_books() == []


def test_rows_staged_in_a_transaction_that_rolls_back_are_gone():
    with pytest.raises(RuntimeError), transaction.atomic():
        copy_rows(LEDGER, [(1, 1, "deposit", "x", None)])
        assert staged_rows()[LEDGER.table] == 1
        raise RuntimeError("rollback")
    assert staged_rows()[LEDGER.table] == 0
