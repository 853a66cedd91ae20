"""A benchmark command run as a user runs it: ``manage.py <command>`` in a process of its own,
on the test run's database server (the command makes its own scratch database), its last line
of output read as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from bench.workers import database_url


def run_bench_command(command: str, *args: str) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "manage.py", command, *args],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def database_url_named(name: str) -> str:
    """The URL of database ``name`` on the test run's server."""
    return urlunsplit(urlsplit(settings.DATABASE_URL)._replace(path=f"/{name}"))
