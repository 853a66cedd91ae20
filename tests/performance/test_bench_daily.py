"""``bench_daily_jobs`` runs every job on generated accounts in a scratch database, and each
job's statements do not depend on the number of accounts."""

from __future__ import annotations

import pytest

from tests.bench_command import run_bench_command

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def bench(accounts: int) -> dict:
    return run_bench_command(
        "bench_daily_jobs",
        "--accounts",
        str(accounts),
        "--positions",
        "3",
        "--days",
        "60",
    )


def test_the_bench_times_every_job_with_statements_independent_of_the_accounts():
    small, large = bench(5), bench(40)
    for report, accounts in ((small, 5), (large, 40)):
        jobs = report["jobs"]
        assert set(jobs) == {"snapshot_cold", "backfill", "snapshot", "recurring"}
        assert jobs["snapshot"]["rows"] == jobs["recurring"]["rows"] == accounts
        assert jobs["backfill"]["rows"] == accounts * (report["trading_days"] - 1)
    for job in ("snapshot_cold", "backfill", "snapshot", "recurring"):
        assert small["jobs"][job]["sql_statements"] == large["jobs"][job]["sql_statements"], job
    assert small["jobs"]["snapshot"]["sql_statements"] == 2
    assert small["jobs"]["recurring"]["sql_statements"] == 2
