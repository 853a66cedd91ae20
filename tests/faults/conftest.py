"""Real processes for the fault tests: Redis servers, Celery workers and gunicorn, all children
of the test, killed for real.

Every child runs in a session (process group) of its own and writes a log under the test's
tmp_path. The ``procs`` fixture stops every child it started, even when the test fails (the
logs' tails are printed then), and ends whatever database sessions the children left behind,
before pytest-django empties the test database. Children reach that test database over the
same server as this process and tag their sessions with ``application_name`` so a test can
find (and kill) a worker's backend.

Each test runs its own Redis on a free port: killed workers leave unacknowledged messages
(``acks_late``), which must not reach any other test or another run's database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import redis
import requests
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

# The least PIES_WINDOW_STALL_SECONDS accepts: a stalled window is resumed this long after its
# last heartbeat.
STALL_SECONDS = 10
APPLICATION_PREFIX = "pies-fault-"
# Ports the shared machine reserves for other Redis servers: never taken by a test.
RESERVED_PORTS = {6379, *range(6400, 6411)}


def free_port() -> int:
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port


def wait_until(
    condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.05
) -> Any:
    """Poll ``condition`` until it returns something truthy (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def child_database_url(application_name: str) -> str:
    """The test database on this process's server (TCP or the embedded server's socket)."""
    url = urlsplit(settings.DATABASE_URL)
    query = [(key, value) for key, value in parse_qsl(url.query) if key != "application_name"]
    query.append(("application_name", application_name))
    return urlunsplit(
        url._replace(path=f"/{connection.settings_dict['NAME']}", query=urlencode(query))
    )


class Child:
    """One child process, in its own process group, with its output in ``log``."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv,
                cwd=settings.BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, chars: int = 4000) -> str:
        return f"--- {self.name} (pid {self.pid}) ---\n{self.output()[-chars:]}"

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the whole process group (a worker's pool children, gunicorn's workers)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL whatever is left of the group after ``timeout``."""
        if self.alive():
            self.kill(signal.SIGTERM)
        self.reap(timeout)

    def reap(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        self.kill(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)


class RedisServer:
    """A Redis server of the test's own on a free port; ``stop`` and ``start`` it at will."""

    def __init__(self, procs: Processes) -> None:
        self.procs = procs
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.child: Child | None = None
        self.start()

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.child = self.procs.start(f"redis-{self.port}", argv)
        wait_until(self.answers, timeout=10, what=f"Redis on port {self.port}")

    def stop(self) -> None:
        assert self.child is not None
        self.child.stop()
        assert not self.answers()

    def answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.ConnectionError:
            return False

    def client(self) -> Celery:
        """A Celery client of this server (broker and results) for sending tasks by name."""
        app = Celery("faults", broker=self.url, backend=self.url, set_as_current=False)
        app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
        self.procs.clients.append(app)
        return app


class Processes:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.children: list[Child] = []
        self.clients: list[Celery] = []

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name, argv, env or dict(os.environ), self.tmp_path / f"{name}.log")
        self.children.append(child)
        return child

    def redis(self) -> RedisServer:
        return RedisServer(self)

    def django_env(self, name: str, redis_server: RedisServer, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": child_database_url(APPLICATION_PREFIX + name),
            "REDIS_URL": redis_server.url,
            "DEBUG": "1",
            "PYTHONUNBUFFERED": "1",
            "PIES_WINDOW_STALL_SECONDS": str(STALL_SECONDS),
            **extra,
        }

    def worker(self, name: str, redis_server: RedisServer, **extra: str) -> Child:
        """A Celery worker, as the Procfile runs it but single-process, once it is ready."""
        [child] = self.workers([name], redis_server, **extra)
        return child

    def workers(self, names: list[str], redis_server: RedisServer, **extra: str) -> list[Child]:
        """Several workers on one broker, started together; returned once all are ready."""
        children = []
        for name in names:
            argv = [sys.executable, "-m", "celery", "-A", "pieproject", "worker", "--pool=solo"]
            argv += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
            argv += ["-n", f"{name}@%h", "-Q", "celery", "--loglevel=INFO"]
            children.append(self.start(name, argv, self.django_env(name, redis_server, **extra)))
        for child in children:
            wait_until(
                lambda child=child: " ready." in child.output() or not child.alive(),
                timeout=60,
                what=f"worker {child.name} to be ready",
                every=0.1,
            )
            assert child.alive(), child.tail()
        return children

    def gunicorn(self, name: str, redis_server: RedisServer) -> str:
        """The web app under gunicorn (as the Procfile runs it); returns its base URL."""
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "pieproject.wsgi", "--workers", "1"]
        argv += ["--bind", f"127.0.0.1:{port}", "--access-logfile", "-"]
        child = self.start(name, argv, self.django_env(name, redis_server))
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert child.alive(), child.tail()
            try:  # the socket is open before gunicorn's worker has loaded the app
                return requests.get(f"{base}/healthz", timeout=10).status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, timeout=60, what=f"gunicorn {name}", every=0.1)
        return base

    def logs(self) -> str:
        return "\n".join(child.tail() for child in self.children)

    def stop_all(self) -> None:
        for app in self.clients:
            app.close()
        for child in self.children:  # all at once: a worker's warm shutdown takes a while
            if child.alive():
                child.kill(signal.SIGTERM)
        for child in self.children:
            child.reap(timeout=10)
        # A killed client's backend may still be waiting on a lock; end it, or it would hold up
        # the flush of the test database. Only sessions our children opened are touched.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                  AND application_name LIKE %s
                """,
                [APPLICATION_PREFIX + "%"],
            )


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture
def procs(transactional_db: None, tmp_path: Path, request: pytest.FixtureRequest):
    """Start children through this; each is stopped when the test ends, pass or fail.

    It depends on ``transactional_db`` so that it is torn down first: the children's writes
    are committed and visible to the test, and no child still holds a session when the test
    database is emptied.
    """
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        if request.node.stash.get(FAILED, True):
            print(processes.logs())
        processes.stop_all()


@pytest.fixture
def todays_windows_taken(transactional_db: None) -> None:
    """Today's scheduled windows exist already (as missed), so a tick at the real time of day
    has nothing to open and only resumes or retries the windows a test made."""
    from trading.calendar import market_date, slots_on
    from trading.models import TradeWindow, WindowStatus

    for slot in slots_on(market_date(timezone.now())):
        TradeWindow.objects.get_or_create(
            trade_date=slot.trade_date,
            session=slot.session,
            defaults={"scheduled_at": slot.starts_at, "status": WindowStatus.MISSED},
        )
