"""Celery worker processes for ``bench_trade_window --workers W``: started on the benchmark's
database and Redis, on a queue of their own, and stopped at the end.

The queue is private (``bench-<pid>``) so no other worker on the same Redis (``make run``'s,
say, on the development database) ever takes one of the benchmark's tasks. Each worker is one
process (``--pool=solo``), so its peak RSS is that process's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection


def database_url() -> str:
    """The URL of the database this process uses now (the scratch one, when it is)."""
    url = urlsplit(settings.DATABASE_URL)
    return urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}"))


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB; 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Workers:
    """``count`` worker processes on a private queue; a context manager."""

    def __init__(self, count: int, *, chunk_size: int | None = None) -> None:
        self.count = count
        self.queue = f"bench-{os.getpid()}"
        self.logs = Path(tempfile.mkdtemp(prefix="pies-bench-workers-"))
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "PIES_WINDOW_SPREAD_CHUNKS": "1",
            "PYTHONUNBUFFERED": "1",
        }
        if chunk_size:
            env["PIES_WINDOW_CHUNK_SIZE"] = str(chunk_size)
        self.processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "pieproject",
                    "worker",
                    "--pool=solo",
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                    "-Q",
                    self.queue,
                    "-n",
                    f"{self.queue}-{n}@%h",
                    "--loglevel=INFO",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=(self.logs / f"worker-{n}.log").open("w"),
                stderr=subprocess.STDOUT,
            )
            for n in range(count)
        ]

    def log(self, n: int) -> str:
        return (self.logs / f"worker-{n}.log").read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for n, process in enumerate(self.processes):
            while " ready." not in self.log(n):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {n} did not start:\n{self.log(n)[-3000:]}")
                time.sleep(0.1)

    def peak_rss_mib(self) -> list[float]:
        return [peak_rss_mib(process.pid) for process in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Workers:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
