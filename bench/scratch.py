"""The benchmarks' scratch database: ``<NAME>_bench``, created and migrated on entry, dropped
on exit (kept with ``keep``), so generated accounts never land in the configured database (the
ledger is append-only: they could not be deleted afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def scratch_database(*, keep: bool = False) -> Iterator[None]:
    creation = connection.creation
    original = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{original}_bench"
    creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield
    finally:
        creation.destroy_test_db(original, verbosity=0, keepdb=keep)
