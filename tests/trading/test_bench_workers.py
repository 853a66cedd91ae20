"""``bench_trade_window --workers W`` (issue 15): the same seed run on 1 and on 2 Celery worker
processes gives the same books (every account's cash and ledger sum,
every lot, every fill, every block's house residues), and with 2 workers both processes did
chunks. Each run is the real command, in a process of its own, on a scratch database."""

from __future__ import annotations

import pytest

from tests.bench_command import run_bench_command

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def bench(workers: int) -> dict:
    return run_bench_command(
        "bench_trade_window",
        "--accounts",
        "240",
        "--slices",
        "6",
        "--seed",
        "3",
        "--chunk-size",
        "20",
        "--workers",
        str(workers),
    )


def test_two_worker_processes_give_the_books_of_one():
    one, two = bench(1), bench(2)

    assert one["books_ok"] and two["books_ok"]
    assert two["books"] == one["books"]
    assert one["chunks"]["plan"]["chunks"] == two["chunks"]["plan"]["chunks"] == 12
    assert one["chunks"]["plan"]["workers"] == one["chunks"]["post"]["workers"] == 1
    # the runner's process and the other worker both did chunks
    assert max(two["chunks"]["plan"]["workers"], two["chunks"]["post"]["workers"]) == 2
    assert len(two["worker_peak_rss_mib"]) == 2
    assert two["sql_statements"] is None
