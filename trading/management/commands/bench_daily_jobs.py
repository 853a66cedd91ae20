"""``manage.py bench_daily_jobs --accounts N [--days D]`` (performance.md, section 4).

Works in a scratch database (``<NAME>_bench``, created, migrated and dropped), as
``bench_trade_window`` does. Generation is untimed (COPY, ``bench.daily_jobs``): N accounts
with K positions, lots, disposals, ledger entries and a close per security over the trading
days of the last D calendar days, and one weekly recurring deposit each, due on the last day.
Then, each timed with its SQL statements counted:
- ``snapshot_cold``: the last day's snapshot with no snapshot before it (every account's whole
  history is read);
- ``backfill``: every day but the last, as ``manage.py backfill_snapshots`` does;
- ``snapshot``: the last day again, now that the day before it has its snapshots (the daily
  job's usual run);
- ``recurring``: the recurring-deposit job for the N due schedules.
The last line is one JSON object, with the load average and a digest of the snapshots (equal
digests, equal snapshots: to compare two versions of the code on the same seed).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from bench.daily_jobs import generate
from bench.scratch import scratch_database
from trading.calendar import MARKET_TZ, market_date
from trading.models import Snapshot
from trading.services import create_due_deposits
from trading.services.snapshots import backfill_snapshots, closed_days, take_snapshot

JOBS = ("snapshot_cold", "backfill", "snapshot", "recurring")
_DIGEST = """
SELECT md5(COALESCE(string_agg(
    concat_ws(',', account_id, day, value, cash, net_contributions, dividends), ';'
    ORDER BY account_id, day), ''))
FROM trading_snapshot
"""


class Command(BaseCommand):
    help = "Benchmark the daily snapshot, the backfill and recurring deposits (performance.md 4)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=1000)
        parser.add_argument("--positions", type=int, default=10, help="per account")
        parser.add_argument("--days", type=int, default=365, help="calendar days of history")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
        parser.add_argument(
            "--jobs",
            default=",".join(JOBS),
            help=f"the jobs to time, comma-separated (default: {','.join(JOBS)}; none: '')",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with scratch_database(keep=options["keep"]):
            self.bench(options)

    def bench(self, options: dict[str, Any]) -> None:
        now = timezone.now()
        days = closed_days(now, count=len_trading_days(now, options["days"]))
        started = time.perf_counter()
        history = generate(
            accounts=options["accounts"],
            positions=options["positions"],
            days=days,
            seed=options["seed"],
        )
        self.stdout.write(
            f"generated {history.rows} over {len(days)} trading days {days[0]}..{days[-1]} "
            f"in {time.perf_counter() - started:.1f}s (untimed)"
        )
        last = days[-1]
        after_close = datetime.combine(last, clock(17), tzinfo=MARKET_TZ)
        jobs: dict[str, dict[str, Any]] = {}
        wanted = set(filter(None, options["jobs"].split(",")))

        def run(name: str, job: Callable[[], Any], rows: Callable[[Any], int]) -> None:
            if name not in wanted:
                return
            statements = 0

            def count(
                execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict
            ) -> Any:
                nonlocal statements
                statements += 1
                return execute(sql, params, many, context)

            load = os.getloadavg()[0]
            began = time.perf_counter()
            with connection.execute_wrapper(count):
                result = job()
            wall = time.perf_counter() - began
            jobs[name] = {
                "wall_s": round(wall, 3),
                "sql_statements": statements,
                "rows": rows(result),
                "load_1m": round(load, 2),
            }
            self.stdout.write(
                f"  {name:<14} {wall:8.3f} s  {statements:4d} statements  "
                f"{rows(result):8d} rows  (load {load:.2f})"
            )

        def one_day() -> int:
            with transaction.atomic():
                return take_snapshot(day=last, now=after_close)

        run("snapshot_cold", one_day, int)
        Snapshot.objects.filter(day=last).delete()
        if len(days) > 1 and "backfill" in wanted:
            run(
                "backfill",
                lambda: backfill_snapshots(first=days[0], last=days[-2], now=after_close),
                int,
            )
        run("snapshot", one_day, int)
        run(
            "recurring",
            lambda: create_due_deposits(now=datetime.combine(last, clock(0, 1), tzinfo=MARKET_TZ)),
            len,
        )
        with connection.cursor() as cursor:
            cursor.execute(_DIGEST)
            (digest,) = cursor.fetchone()
        self.stdout.write(
            json.dumps(
                {
                    "accounts": options["accounts"],
                    "positions": options["positions"],
                    "trading_days": len(days),
                    "jobs": jobs,
                    "snapshots_digest": digest,
                }
            )
        )


def len_trading_days(now: datetime, calendar_days: int) -> int:
    """How many trading days have closed in the ``calendar_days`` up to ``now``."""
    first = market_date(now) - timedelta(days=calendar_days - 1)
    return sum(1 for day in closed_days(now, count=calendar_days) if day >= first)
