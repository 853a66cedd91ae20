"""Fuzz the REST API with schemathesis against a live server (`make fuzz`).

    DATABASE_URL=postgresql://... REDIS_URL=redis://... python -m tests.fuzz.run_schemathesis

(`make fuzz` runs it under ``pieproject.devservers``, which provides both.) It:
1. creates a fresh scratch database ``pies_fuzz`` on the PostgreSQL server of DATABASE_URL
   and migrates it;
2. seeds a staff user with an API token who is also an investor: securities with prices, an
   account with a nested pie, holdings from a deposit run through a window, a pending intent;
3. starts gunicorn on a free 127.0.0.1 port (DEBUG off, as in production);
4. runs the schemathesis CLI against /api/schema/ with the token, the account's id forced
   into every ``{account_id}`` so the fuzzing reaches real accounts, bounded in time;
5. fails (exit 1) on any 5xx, any status the schema does not list, any wrong content type or
   any response body that violates the schema.

Environment knobs: FUZZ_MAX_EXAMPLES (default 50 per operation), FUZZ_SEED (default 1, or
"random"), FUZZ_TIMEOUT seconds for the schemathesis run (default 600), FUZZ_KEEP_DB=1 to keep
the scratch database for a look afterwards, FUZZ_JUNIT=path to write a JUnit XML report.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from urllib.request import urlopen

BASE_DIR = Path(__file__).resolve().parents[2]
FUZZ_DATABASE = "pies_fuzz"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def log(message: str) -> None:
    print(f"[fuzz] {message}", file=sys.stderr, flush=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def fresh_database(url: str) -> str:
    """Drop and create the scratch database on the same server; return its URL."""
    import psycopg

    admin = with_database(url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{FUZZ_DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{FUZZ_DATABASE}"')
    return with_database(url, FUZZ_DATABASE)


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{FUZZ_DATABASE}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "pieproject.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONPATH": str(BASE_DIR),
        "LOG_LEVEL": "WARNING",
    }


SEED = r"""
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from pies.services import open_account, save_pie_tree
from trading.models import Price, Security
from trading.ops import ensure_operations_group
from trading.services import request_deposit

user = get_user_model().objects.create_user("fuzz", password="fuzz-password-1", is_staff=True)
user.groups.add(ensure_operations_group())  # is_staff alone gives nothing in the API
token = Token.objects.create(user=user)
at = timezone.now() - timezone.timedelta(minutes=5)
for symbol, price in [("VTI", "250.12"), ("VXUS", "61.30"), ("BND", "72.45"), ("TIP", "108.90")]:
    security = Security.objects.create(symbol=symbol, name=f"{symbol} Fund", kind="etf")
    Price.objects.create(security=security, at=at, price=Decimal(price))
Security.objects.create(symbol="OLD", name="Delisted Fund", kind="fund", active=False)
account = open_account(user=user, kind="individual")
save_pie_tree(account=account, version=1, tree={"name": "Core", "slices": [
    {"target_percent": "60", "symbol": "VTI"},
    {"target_percent": "10", "symbol": "VXUS"},
    {"target_percent": "30", "pie": {"name": "Bonds", "slices": [
        {"target_percent": "70", "symbol": "BND"}, {"target_percent": "30", "symbol": "TIP"}]}},
]})
request_deposit(account=account, amount="5000.00")
try:
    from trading.window import open_adhoc_window, run_window
except ImportError:
    print("no window engine: holdings stay empty", flush=True)
else:
    run_window(open_adhoc_window(timezone.now()).pk)
intent = request_deposit(account=account, amount="10.00").intent
print(f"SEED {token.key} {account.pk} {intent.pk}", flush=True)
"""


def seed(env: dict[str, str]) -> tuple[str, int, int]:
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=BASE_DIR)
    done = subprocess.run(
        [*manage, "shell", "-c", SEED],
        env=env,
        check=True,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("SEED "))
    _, token, account_id, intent_id = line.split()
    return token, int(account_id), int(intent_id)


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            "pieproject.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "2",
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=BASE_DIR,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def run_schemathesis(port: int, token: str, account_id: int, intent_id: int) -> int:
    max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "50")
    seed_value = os.environ.get("FUZZ_SEED", "1")
    timeout = int(os.environ.get("FUZZ_TIMEOUT", "600"))
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "schemathesis.toml"
        # Every {account_id} is the seeded account, so the fuzzing exercises real accounts
        # rather than 404s; {intent_id} is a pending intent (cancellable once, then 409).
        config.write_text(
            f'[parameters]\n"path.account_id" = {account_id}\n"path.intent_id" = {intent_id}\n'
        )
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(config),
            "run",
            f"http://127.0.0.1:{port}/api/schema/",
            "--header",
            f"Authorization: Token {token}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            max_examples,
            # One generating thread: with two, Hypothesis's lambda descriptions call ast.parse
            # from both threads at once, which CPython 3.11 can fail with "AST constructor
            # recursion depth mismatch" (a SystemError in the fuzzer, not in the app).
            "--workers",
            "1",
            "--request-timeout",
            "60",
            "--generation-allow-x00",
            "true",
            "--generation-database",
            "none",
            "--no-color",
        ]
        if seed_value != "random":
            command += ["--seed", seed_value]
        junit = os.environ.get("FUZZ_JUNIT")
        if junit:  # CI sums every stage's tests from JUnit reports (.ci/summarize.py)
            command += ["--report", "junit", "--report-junit-path", str(Path(junit).resolve())]
        log(" ".join(command).replace(token, "<token>"))
        try:
            return subprocess.run(command, cwd=tmp, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            log(f"schemathesis did not finish within {timeout} s")
            return 1


def main() -> int:
    base_url = os.environ.get("DATABASE_URL")
    if not base_url or not os.environ.get("REDIS_URL"):
        log("set DATABASE_URL and REDIS_URL (or run `make fuzz`, which starts servers)")
        return 2
    started = time.monotonic()
    database_url = fresh_database(base_url)
    port = free_port()
    env = server_env(database_url, port)
    log(f"scratch database {FUZZ_DATABASE}: migrating and seeding")
    token, account_id, intent_id = seed(env)
    server = start_server(env, port)
    log(f"server on 127.0.0.1:{port}; account {account_id}")
    try:
        code = run_schemathesis(port, token, account_id, intent_id)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        if os.environ.get("FUZZ_KEEP_DB") != "1":
            drop_database(base_url)
    log(f"{'passed' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
