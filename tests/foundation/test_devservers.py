"""The embedded servers `make run` and `make test` use when no URLs are set."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import os, psycopg, redis
with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
    print("pg", conn.execute("select current_database()").fetchone()[0])
print("redis", redis.Redis.from_url(os.environ["REDIS_URL"]).ping())
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_embedded_postgres_and_redis_start_serve_and_stop(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(PIES_DATA_DIR=str(tmp_path / "data"), PIES_EMBEDDED_REDIS_PORT=str(port))
    done = subprocess.run(
        [sys.executable, "-m", "pieproject.devservers", "--", sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "pg pies" in done.stdout and "redis True" in done.stdout
    assert "embedded PostgreSQL stopped" in done.stderr
    assert "embedded Redis stopped" in done.stderr
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing left listening
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()


def test_production_settings_pass_the_deploy_check():
    # The browser tests allow async-unsafe calls in their own process; production does not.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DEBUG="0",
        SECRET_KEY="x" * 20 + "-prod-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="example.com",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
