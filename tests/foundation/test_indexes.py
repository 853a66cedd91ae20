"""No index that another one already serves: every index of the app's tables costs a write on
every row inserted (a window writes tens of thousands), so a plain index whose columns start
another plain index of the same table (Django's automatic foreign-key index beside a
composite unique constraint, say) is dropped (trading migration 0014)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

_INDEXES = """
SELECT t.relname, i.relname, ix.indkey::text
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema()
  AND (t.relname LIKE 'trading\\_%' OR t.relname LIKE 'pies\\_%')
  AND ix.indpred IS NULL AND ix.indexprs IS NULL
"""


def test_no_index_of_the_apps_tables_is_a_prefix_of_another():
    with connection.cursor() as cursor:
        cursor.execute(_INDEXES)
        rows = cursor.fetchall()
    by_table: dict[str, list[tuple[str, list[str]]]] = {}
    for table, name, columns in rows:
        by_table.setdefault(table, []).append((name, columns.split()))
    covered = [
        f"{table}: {name} {columns} is served by {other} {longer}"
        for table, indexes in by_table.items()
        for name, columns in indexes
        for other, longer in indexes
        if name != other and len(columns) < len(longer) and longer[: len(columns)] == columns
    ]
    assert covered == []
    assert "trading_ledgerentry" in by_table  # the query saw the tables
