"""Leave room in the pages of the rows a window updates, so the updates are HOT.

A window inserts orders and updates them once filled; it updates cash, position quantities and
lots' remaining quantities in place. With full pages every such update writes a new entry in
every index of the table; with free space on the page PostgreSQL can keep the new row version
on the same page and skip the indexes (none of these columns is indexed).

Except lots: their ``open_lots_by_position`` index (0001) is partial on remaining_quantity > 0,
and PostgreSQL never makes HOT an update of a column an index's predicate names, so a lot's
update writes to every index of the table whatever the free space. The index stays: it keeps
a position's open lots one probe away however many closed lots pile up behind them.
"""

from django.db import migrations

TABLES = {
    "trading_order": 70,
    "trading_position": 80,
    "trading_account": 80,
    "trading_lot": 80,
    "trading_intent": 80,
}


class Migration(migrations.Migration):
    dependencies = [("trading", "0004_operations_group")]

    operations = [
        migrations.RunSQL(
            [f"ALTER TABLE {table} SET (fillfactor = {value})" for table, value in TABLES.items()],
            [f"ALTER TABLE {table} RESET (fillfactor)" for table in TABLES],
        )
    ]
