"""Loaded by pytest before Django (``-p pieproject.testenv`` in pyproject.toml).

Tests run with the laptop defaults (the development secret key, console email), against
whatever DATABASE_URL and REDIS_URL say, or the embedded servers' defaults.
"""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
