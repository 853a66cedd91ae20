"""``manage.py bench_trade_window --accounts N --slices K --seed S`` (performance.md, section 2).

By default it works in a scratch database (``<NAME>_bench``, created, migrated and dropped by
the command), so the benchmark's thousands of accounts never land in the development database
(the ledger is append-only: they could not be deleted afterwards). ``--in-place`` writes into
the configured database instead: point DATABASE_URL at a scratch database for that.

Generation is untimed (COPY). The window is timed per phase; every SQL statement it sends is
counted; peak RSS is the process's; rows written are counted from the tables afterwards; the
same number of rows is then COPY-ed (binary) into a temp table for the ratio. The last line is
one JSON object, with a digest of the books (``books``: equal digests, equal books).

``--workers W`` runs the window as production does: this command starts W Celery worker
processes (one process each) on the same database and Redis, sends the window to them, and
waits for it; the window's runner spreads the plan and post chunks over all of them
(``trading.window.chunks``). Statements are then not counted (they are sent by the workers),
and peak RSS is given per worker process.
"""

from __future__ import annotations

import json
import resource
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from bench.scratch import scratch_database
from bench.trade_window import books_digest, generate
from bench.workers import Workers
from trading.books import verify_books
from trading.models import TradeWindow, WindowStatus
from trading.tasks import run_window_task
from trading.window import open_adhoc_window, run_window

_ROWS_WRITTEN = """
SELECT
    (SELECT COUNT(*) FROM trading_windowaccount WHERE window_id = %(w)s)
  + (SELECT COUNT(*) FROM trading_intent WHERE window_id = %(w)s)
  + 2 * (SELECT COUNT(*) FROM trading_order WHERE window_id = %(w)s)
  + (SELECT COUNT(*) FROM trading_blockorder WHERE window_id = %(w)s)
  + (SELECT COUNT(*) FROM trading_fill f JOIN trading_blockorder b ON b.id = f.block_id
     WHERE b.window_id = %(w)s)
  + (SELECT COUNT(*) FROM trading_ledgerentry WHERE window_id = %(w)s)
  + (SELECT COUNT(*) FROM trading_lot l JOIN trading_order o ON o.id = l.order_id
     WHERE o.window_id = %(w)s)
  + 2 * (SELECT COUNT(*) FROM trading_disposal d JOIN trading_order o ON o.id = d.order_id
     WHERE o.window_id = %(w)s)
  + (SELECT COUNT(DISTINCT position_id) FROM trading_order
     WHERE window_id = %(w)s AND status = 'filled')
  + (SELECT COUNT(DISTINCT account_id) FROM trading_ledgerentry WHERE window_id = %(w)s)
"""


class Command(BaseCommand):
    help = "Benchmark one trade window over generated accounts (performance.md section 2)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--accounts", type=int, default=1000)
        parser.add_argument("--slices", type=int, default=10)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--chunk-size", type=int, default=None)
        parser.add_argument(
            "--in-place",
            action="store_true",
            help="Write into the configured database instead of a scratch one.",
        )
        parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
        parser.add_argument(
            "--slowest",
            type=int,
            default=0,
            metavar="N",
            help="Print the N slowest statements of the window and their times (in process).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=0,
            metavar="W",
            help="Run the window on W Celery worker processes started for it (0: in this process).",
        )
        parser.add_argument(
            "--explain",
            type=int,
            metavar="MS",
            default=None,
            help="Print the EXPLAIN ANALYZE of every window statement slower than MS ms "
            "(auto_explain, sent to this session as notices).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["in_place"]:
            self.bench(options)
            return
        with scratch_database(keep=options["keep"]):
            self.bench(options)

    def bench(self, options: dict[str, Any]) -> None:
        accounts, slices = options["accounts"], options["slices"]
        started = time.perf_counter()
        written = generate(accounts=accounts, slices=slices, seed=options["seed"])
        with connection.cursor() as cursor:
            # The window meets the tables as an installation's would, not as a bulk load leaves
            # them: every row's hint bits set and the visibility map built (what autovacuum does
            # between windows; the first reader would otherwise pay for millions of fresh rows),
            # and the load's dirty pages written (its checkpoint is not the window's).
            cursor.execute("VACUUM (ANALYZE)")
            try:
                cursor.execute("CHECKPOINT")
            except DatabaseError as error:  # PostgreSQL 15: superuser or pg_checkpoint only
                self.stderr.write(f"no CHECKPOINT before the window ({error})".strip())
        self.stdout.write(f"generated {written} in {time.perf_counter() - started:.1f}s (untimed)")

        # Every statement of the run, its chunk threads' too (they run through these wrappers):
        # list.append is atomic, so each statement is one entry whichever thread sent it.
        timed: list[tuple[float, str]] = []

        def count(
            execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict
        ) -> Any:
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                timed.append((time.perf_counter() - started, " ".join(sql.split())[:100]))

        if options["explain"] is not None:
            self.explain_slower_than(options["explain"])
        window = open_adhoc_window()
        worker_rss: list[float] = []
        if options["workers"]:
            with Workers(options["workers"], chunk_size=options["chunk_size"]) as workers:
                started = time.perf_counter()
                report = self.run_on(workers, window.pk)
                wall = time.perf_counter() - started
                worker_rss = workers.peak_rss_mib()
            statements_text = "statements sent by the workers (not counted)"
        else:
            started = time.perf_counter()
            # auto_explain is set on this thread's session only: --explain runs on this thread.
            threads = 1 if options["explain"] is not None else None
            with connection.execute_wrapper(count):
                report = run_window(window.pk, chunk_size=options["chunk_size"], threads=threads)
            wall = time.perf_counter() - started
            statements_text = f"{len(timed)} SQL statements"
        peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        with connection.cursor() as cursor:
            cursor.execute(_ROWS_WRITTEN, {"w": window.pk})
            (rows_written,) = cursor.fetchone()
        violations = verify_books()
        copy_s = self.copy_time(rows_written)

        phases = {phase: round(seconds, 4) for phase, seconds in report["timings"].items()}
        for phase, seconds in phases.items():
            self.stdout.write(f"  {phase:<9} {seconds:8.3f} s")
        for phase, chunks in report.get("chunks", {}).items():
            parts = ", ".join(f"{part} {s:.3f}" for part, s in chunks["seconds"].items())
            self.stdout.write(
                f"  {phase} chunks: {chunks['chunks']} by {chunks['workers']} worker(s), "
                f"{chunks['busy_seconds']:.3f} s busy in all ({parts} s; the rest: the claim, "
                "the last statement, the commit)"
            )
        self.stdout.write(f"  window    {wall:8.3f} s wall, {statements_text}")
        if options["slowest"] and timed:
            self.stdout.write(f"  slowest statements (of {sum(s for s, _ in timed):.3f} s in SQL):")
            for seconds, sql in sorted(timed, reverse=True)[: options["slowest"]]:
                self.stdout.write(f"    {seconds:7.3f} s  {sql}")
        rss = f"peak RSS {peak_rss_mib:.0f} MiB"
        if worker_rss:
            rss += " here, workers " + ", ".join(f"{mib:.0f}" for mib in worker_rss) + " MiB"
        self.stdout.write(
            f"  {report['accounts']} accounts, {report['orders']} orders, "
            f"{report['blocks']} blocks, {rows_written} rows written, {rss}"
        )
        self.stdout.write(
            f"  binary COPY of {rows_written} rows: {copy_s:.3f} s; "
            f"window / copy = {wall / copy_s:.2f}"
        )
        self.stdout.write(
            "  verify_books: " + ("OK" if not violations else "; ".join(violations[:5]))
        )
        self.stdout.write(
            json.dumps(
                {
                    "accounts": accounts,
                    "slices": slices,
                    "wall_s": round(wall, 4),
                    "phases": phases,
                    "workers": options["workers"],
                    "sql_statements": None if options["workers"] else len(timed),
                    "peak_rss_mib": round(max([peak_rss_mib, *worker_rss]), 1),
                    "worker_peak_rss_mib": [round(mib, 1) for mib in worker_rss],
                    "chunks": report.get("chunks", {}),
                    "rows_written": rows_written,
                    "copy_s": round(copy_s, 4),
                    "copy_ratio": round(wall / copy_s, 2),
                    "books_ok": not violations,
                    "books": books_digest(),
                }
            )
        )

    def run_on(self, workers: Workers, window_id: int) -> dict[str, Any]:
        """Send the window to the workers and wait for it (its row says when it is done)."""
        run_window_task.apply_async((window_id,), queue=workers.queue)
        while True:
            window = TradeWindow.objects.get(pk=window_id)
            if window.status == WindowStatus.DONE:
                return window.report
            if window.status == WindowStatus.FAILED or not all(
                process.poll() is None for process in workers.processes
            ):
                logs = "\n".join(workers.log(n)[-2000:] for n in range(workers.count))
                raise CommandError(f"window {window_id}: {window.status} {window.error}\n{logs}")
            time.sleep(0.02)

    def explain_slower_than(self, ms: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("LOAD 'auto_explain'")
            cursor.execute(f"SET auto_explain.log_min_duration = {int(ms)}")
            cursor.execute("SET auto_explain.log_analyze = on")
            cursor.execute("SET auto_explain.log_nested_statements = on")
            cursor.execute("SET auto_explain.log_triggers = on")
            cursor.execute("SET client_min_messages = log")
            cursor.connection.add_notice_handler(
                lambda notice: self.stderr.write(notice.message_primary or "")
            )

    def copy_time(self, rows: int) -> float:
        """Time a binary COPY of ``rows`` rows (id, amount, text) into a temp table."""
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_copy (id bigint, amount numeric(18, 2), note text)"
            )
            raw = cursor.cursor
            amount = Decimal("123.45")
            started = time.perf_counter()
            with raw.copy("COPY bench_copy (id, amount, note) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "numeric", "text"])
                for n in range(rows):
                    copy.write_row((n, amount, "window:1:order:1"))
            elapsed = time.perf_counter() - started
            cursor.execute("DROP TABLE bench_copy")
        return elapsed
