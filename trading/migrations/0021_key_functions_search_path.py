"""The key triggers' functions (0019) name their tables in the schema they were made in.

They build their queries with table names (``format('... FROM %I ...', parent)``), resolved
through the calling session's search_path, where a session's temporary tables come first: a
temporary table named like a parent (``trading_account``) would have answered for it, and a row
naming a missing account could have been written. Each function now runs with the search_path
of its own schema, temporary tables last (as PostgreSQL advises for functions that must not be
fooled by them). Transition tables (``new_rows``, ``old_rows``) are not looked up in the
search_path, so they are unaffected.
"""

from django.db import migrations

FUNCTIONS = [
    "books_keys_exist",
    "books_key_exists",
    "books_keys_unreferenced",
    "books_key_unreferenced",
    "books_keys_truncated",
]

PIN = """
DO $$
BEGIN
{statements}
END $$;
""".format(
    statements="\n".join(
        f"    EXECUTE format('ALTER FUNCTION {name}() SET search_path = %I, pg_temp', "
        "current_schema());"
        for name in FUNCTIONS
    )
)
UNPIN = "\n".join(f"ALTER FUNCTION {name}() RESET search_path;" for name in FUNCTIONS)


class Migration(migrations.Migration):
    dependencies = [("trading", "0020_window_write_costs")]

    operations = [migrations.RunSQL(PIN, UNPIN)]
