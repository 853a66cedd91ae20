"""Drop the single-column foreign-key indexes that a composite index (unique or not) starting
with the same column already serves: the ledger's and orders' account, the intents' account and
schedule, the windows' blocks, accounts and chunks, and a few more. Every window writes tens of
thousands of rows into these tables, each row paying for every index.

Only the indexes are dropped (the foreign keys stay: no re-validation of a large ledger); the
state change tells Django the fields are no longer indexed. tests/foundation/test_indexes.py
keeps new ones from coming back.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# index name (Django's, the same on every installation): (table, column)
INDEXES = {
    "trading_account_owner_id_1fce34be": ("trading_account", "owner_id"),
    "trading_blockorder_window_id_7c82a47f": ("trading_blockorder", "window_id"),
    "trading_confirmation_window_id_14e7f148": ("trading_confirmation", "window_id"),
    "trading_dividend_security_id_78f6c346": ("trading_dividend", "security_id"),
    "trading_intent_account_id_6c051de8": ("trading_intent", "account_id"),
    "trading_intent_schedule_id_aa84c497": ("trading_intent", "schedule_id"),
    "trading_ledgerentry_account_id_912daafb": ("trading_ledgerentry", "account_id"),
    "trading_order_account_id_2113cd4c": ("trading_order", "account_id"),
    "trading_price_security_id_3593de00": ("trading_price", "security_id"),
    "trading_snapshot_account_id_d3f9ca8b": ("trading_snapshot", "account_id"),
    "trading_windowaccount_window_id_87baa3b2": ("trading_windowaccount", "window_id"),
    "trading_windowchunk_window_id_3f388928": ("trading_windowchunk", "window_id"),
}


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0013_window_chunks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name in INDEXES],
                    [
                        f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")'
                        for name, (table, column) in INDEXES.items()
                    ],
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="account",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="accounts",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="blockorder",
                    name="window",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="blocks",
                        to="trading.tradewindow",
                    ),
                ),
                migrations.AlterField(
                    model_name="confirmation",
                    name="window",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="confirmations",
                        to="trading.tradewindow",
                    ),
                ),
                migrations.AlterField(
                    model_name="dividend",
                    name="security",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="dividends",
                        to="trading.security",
                    ),
                ),
                migrations.AlterField(
                    model_name="intent",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="intents",
                        to="trading.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="intent",
                    name="schedule",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="intents",
                        to="trading.recurringdeposit",
                    ),
                ),
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ledger_entries",
                        to="trading.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="orders",
                        to="trading.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="price",
                    name="security",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="prices",
                        to="trading.security",
                    ),
                ),
                migrations.AlterField(
                    model_name="snapshot",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="snapshots",
                        to="trading.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="windowaccount",
                    name="window",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="accounts",
                        to="trading.tradewindow",
                    ),
                ),
                migrations.AlterField(
                    model_name="windowchunk",
                    name="window",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="chunks",
                        to="trading.tradewindow",
                    ),
                ),
            ],
        )
    ]
