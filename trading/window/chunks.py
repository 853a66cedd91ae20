"""Plan and post chunks, done by whoever claims them: the window's runner and any worker.

Every chunk has a progress row (``WindowChunk``), written with the freeze. A chunk's
transaction claims its row in its first statement (``FOR UPDATE SKIP LOCKED``: a chunk another
process is doing is skipped, not waited for), does the chunk, and marks the row done in its
last statement (``finish``), in the same transaction as the chunk's effects. So any number of
processes can work on one phase of a window; one that dies mid-chunk rolls back and leaves its
chunk to the next claimer; and no chunk is applied twice. Chunks share rows (the window's, the
system accounts') only in that last statement, so they run side by side until it.

The runner (``trading.window.run_window``) sends one task per chunk to the workers when it runs
on one, does chunks itself as well, then waits for the ones others are doing. It never reads a
Celery result: these rows are the progress. The window's report adds up their counts.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection

from trading.models import WindowStatus
from trading.window.common import (
    PROGRESS_CTE,
    Run,
    dump_json,
    fetch,
    load_json,
    progress_params,
    timed_into,
)

# A chunk's first statement starts WITH this: the lowest chunk of the phase that nobody has
# done or is doing, locked until the chunk's transaction ends. Needs %(window)s, %(phase)s.
#
# The chunk's transaction commits without waiting for its WAL to reach the disk
# (synchronous_commit off, for this transaction only). A chunk lost to a server crash is lost
# whole, done mark included, and done again on resume; and nothing outside the database sees a
# chunk before the runner's next statement (``_left_after_beat``), a synchronous commit, which
# flushes the WAL of every commit before it: a phase's chunks are on disk before the broker is
# called or the window closes. Nor does it compile its statements (jit off): they are planned
# as large (many rows, few statistics), and compiling cost more than it saved, measured.
CLAIMED_CTE = f"""
    claimed AS (
        SELECT c.number, clock_timestamp() AS at
        FROM trading_windowchunk c JOIN trading_tradewindow w ON w.id = c.window_id
        WHERE c.window_id = %(window)s AND c.phase = %(phase)s AND c.done_at IS NULL
          AND w.status = '{WindowStatus.RUNNING.value}'
          AND set_config('synchronous_commit', 'off', true) = 'off'
          AND set_config('jit', 'off', true) = 'off'
        ORDER BY c.number
        LIMIT 1
        FOR UPDATE OF c SKIP LOCKED
    )"""

# The chunk marked done, in its last statement (``_FINISH``, with ``Claim.params``).
CHUNK_DONE_CTE = """
    chunk_done AS (
        UPDATE trading_windowchunk
        SET done_at = clock_timestamp(), claimed_at = %(claimed_at)s, worker = %(worker)s,
            stats = %(stats)s::jsonb, seconds = %(seconds)s::jsonb
        WHERE window_id = %(window)s AND phase = %(phase)s AND number = %(chunk)s
        RETURNING 1
    )"""

# How often a runner with nothing left to claim looks whether the others are done.
POLL_SECONDS = 0.05


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:200]


@dataclass
class Claim:
    """A chunk this process holds: which, since when, and what it counted and timed."""

    phase: str
    number: int
    claimed_at: datetime
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, phase: str, rows: list[tuple]) -> Claim | None:
        """The claim a chunk's first read returned (number and time lead every row)."""
        return cls(phase, rows[0][0], rows[0][1]) if rows else None

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def timed(self, part: str) -> AbstractContextManager[None]:
        return timed_into(self.seconds, part)

    def params(self) -> dict[str, Any]:
        """CHUNK_DONE_CTE's parameters."""
        return {
            "phase": self.phase,
            "chunk": self.number,
            "claimed_at": self.claimed_at,
            "worker": worker_name(),
            "stats": dump_json(self.stats),
            "seconds": dump_json({part: round(s, 4) for part, s in self.seconds.items()}),
        }


# A chunk's last statement: the chunk marked done, the window's heartbeat, and the system
# accounts' cash moved by the chunk's entries (its apply statement's SYSTEM_DELTAS).
#
# Every chunk moves EXTERNAL's or CLEARING's cash, and chunks run at the same time on several
# workers. Those rows are updated only once this statement holds the window's row (``beat``):
# concurrent chunks take them one chunk at a time, in one order, so they never deadlock. As this
# is the chunk's last statement, and the keys of its rows were checked by the statements that
# wrote them (``finish``), a chunk holds these rows only for this statement and its commit: the
# rest of concurrent chunks, their apply statements included, runs side by side.
_FINISH = f"""
WITH
    {PROGRESS_CTE}
    system_cash AS (
        UPDATE trading_account a SET cash = a.cash + d.delta
        FROM unnest(%(accounts)s::bigint[], %(deltas)s::numeric[]) AS d(account_id, delta), beat
        WHERE a.id = d.account_id
        RETURNING 1
    ),
    {CHUNK_DONE_CTE}
SELECT (SELECT COUNT(*) FROM system_cash), (SELECT COUNT(*) FROM chunk_done) FROM beat
"""


def finish(run: Run, claim: Claim, accounts: list[int], deltas: list[Decimal]) -> None:
    """End a chunk's transaction's work with _FINISH. The caller commits.

    The keys of the rows a chunk writes in bulk are checked by the statements that write them
    (migration 0019), before this one. The only foreign keys still checked at commit, while the
    chunk holds the shared rows, are those of the few positions a plan opens for slices bought
    for the first time: a handful of index probes, not worth a statement of their own."""
    fetch(
        _FINISH,
        {
            "window": run.window_id,
            "accounts": accounts,
            "deltas": deltas,
            **progress_params(None, claim.phase),
            **claim.params(),
        },
    )


def undone(run: Run, phase: str) -> list[int]:
    rows = fetch(
        """
        SELECT number FROM trading_windowchunk
        WHERE window_id = %s AND phase = %s AND done_at IS NULL ORDER BY number
        """,
        [run.window_id, phase],
    )
    return [number for (number,) in rows]


def _left_after_beat(run: Run, phase: str) -> int:
    """The phase's chunks not done yet; the window's heartbeat beats (the runner is alive)."""
    [(left,)] = fetch(
        """
        WITH beat AS (
            UPDATE trading_tradewindow SET phase = %(phase)s, heartbeat_at = clock_timestamp()
            WHERE id = %(window)s
            RETURNING id
        )
        SELECT COUNT(*) FROM trading_windowchunk
        WHERE window_id = (SELECT id FROM beat) AND phase = %(phase)s AND done_at IS NULL
        """,
        {"window": run.window_id, "phase": phase},
    )
    return int(left)


def do_phase(
    run: Run,
    phase: str,
    take: Callable[[], Claim | None],
    *,
    send: Callable[[str, list[int]], None] | None,
    committed: Callable[[], None],
    threads: int = 1,
) -> None:
    """Every chunk of ``phase`` done, by this process (``take`` claims and does one) and by
    whoever else ``send`` asked (one task per chunk): returns once none is left.

    With ``threads`` > 1, that many threads of this process claim chunks side by side, each on
    its own database connection: while PostgreSQL writes one chunk, another's Python plans or
    allocates (the GIL is released while a thread waits for the database). ``committed`` is
    called for this thread's chunks only."""
    if send is not None:
        numbers = undone(run, phase)
        if numbers:
            send(phase, numbers)
    with ChunkThreads(take, threads - 1) as helpers:
        while True:
            helpers.check()  # an error on a chunk thread fails the phase now
            if take() is not None:
                committed()
                continue
            helpers.join()  # their last chunks, or the error one of them ran into
            if not _left_after_beat(run, phase):
                return
            time.sleep(POLL_SECONDS)  # the rest are being done elsewhere: wait for them


class ChunkThreads:
    """Threads that claim and do chunks (``take``) beside the caller until none is left to
    claim. Each has its own database connection (Django's are per thread), closed when it
    stops, and runs its statements through the caller's execute wrappers (statement counters
    see them). ``join`` waits for them and raises the first error one of them ran into; leaving
    the block on an error stops them after their current chunk and waits for them, so none
    outlives the phase."""

    def __init__(self, take: Callable[[], Claim | None], count: int) -> None:
        self.take = take
        self.wrappers = list(connection.execute_wrappers)
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._work, name=f"window-chunks-{n + 1}", daemon=True)
            for n in range(count)
        ]

    def __enter__(self) -> ChunkThreads:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.join()
        else:  # the caller's error wins; the helpers finish their chunk and stop
            self.stopping.set()
            for thread in self.threads:
                thread.join()

    def _work(self) -> None:
        connection.execute_wrappers.extend(self.wrappers)
        try:
            while not self.stopping.is_set() and self.take() is not None:
                pass
        except BaseException as error:  # re-raised by join, in the caller's thread
            self.errors.append(error)
        finally:
            connection.close()

    def check(self) -> None:
        if self.errors:
            raise self.errors[0]

    def join(self) -> None:
        for thread in self.threads:
            thread.join()
        self.check()


def _add_waiting(total: dict[str, dict[str, Any]], waiting: dict[str, dict[str, Any]]) -> None:
    for symbol, entry in waiting.items():
        into = total.setdefault(symbol, {"orders": 0, "buy": "0", "sell": "0"})
        into["orders"] += entry["orders"]
        for side in ("buy", "sell"):
            into[side] = str(Decimal(into[side]) + Decimal(entry[side]))


def _add_stats(total: dict[str, Any], stats: dict[str, Any]) -> None:
    for key, value in stats.items():
        if key == "waiting":
            _add_waiting(total.setdefault("waiting", {}), value)
        elif isinstance(value, list):
            total.setdefault(key, []).extend(value)
        else:
            total[key] = total.get(key, 0) + value


@dataclass
class PhaseTotals:
    """A phase's chunks added up for the report."""

    stats: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    chunks: int = 0
    workers: set[str] = field(default_factory=set)
    busy_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks,
            "workers": len(self.workers),
            "busy_seconds": round(self.busy_seconds, 4),
            "seconds": {part: round(s, 4) for part, s in sorted(self.seconds.items())},
        }


def phase_totals(run: Run) -> dict[str, PhaseTotals]:
    """Per phase, its chunks' counts and times; with what a run before chunk rows existed
    counted in the window's progress (``plan_stats``, ``post_stats``, ``waiting``)."""
    totals = {"plan": PhaseTotals(), "post": PhaseTotals()}
    _add_stats(totals["plan"].stats, run.progress.get("plan_stats", {}))
    _add_waiting(totals["plan"].stats.setdefault("waiting", {}), run.progress.get("waiting", {}))
    _add_stats(totals["post"].stats, run.progress.get("post_stats", {}))
    rows = fetch(
        """
        SELECT phase, stats, seconds, worker,
               COALESCE(EXTRACT(EPOCH FROM done_at - claimed_at), 0)
        FROM trading_windowchunk WHERE window_id = %s AND done_at IS NOT NULL
        ORDER BY phase, number
        """,
        [run.window_id],
    )
    for phase, stats, seconds, worker, busy in rows:
        total = totals[phase]
        _add_stats(total.stats, load_json(stats))
        for part, value in load_json(seconds).items():
            total.seconds[part] = total.seconds.get(part, 0.0) + float(value)
        total.chunks += 1
        total.workers.add(worker)
        total.busy_seconds += float(busy)
    return totals
