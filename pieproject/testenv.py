"""Loaded by pytest before Django (``-p pieproject.testenv`` in pyproject.toml).

Tests run with the laptop defaults (the development secret key, console email), against
whatever DATABASE_URL and REDIS_URL say, or the embedded servers' defaults. Each pytest-xdist
worker gets its own Redis database, so one worker's cache clears and Celery messages never
reach another's tests.
"""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... or unset
if _worker.startswith("gw") and _worker[2:].isdigit():
    _port = os.environ.get("PIES_EMBEDDED_REDIS_PORT") or "6389"
    _url = urlsplit(os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{_port}/0")
    os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{1 + int(_worker[2:])}"))
