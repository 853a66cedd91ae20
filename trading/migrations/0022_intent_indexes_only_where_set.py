"""Intents index their pie and their recurring schedule only where they have one.

Most intents are deposits and withdrawals, with neither (only a rebalance names a pie, only a
recurring deposit a schedule), and an index entry for their NULLs is paid again at each write:
each intent is updated twice in a window (bound at the freeze, done at the post), and both
updates change an indexed column (window_id, status), so neither is HOT and every entry the
intent has is written again: seven entries for a deposit or a withdrawal, now five.
``ON CONFLICT DO NOTHING`` (the recurring job) names no index, so the partial unique index
serves it as before; a NULL schedule was never a conflict.
"""

import django.db.models.deletion
from django.db import migrations, models


# Django's AlterField, asked to drop the pie's index, drops every index on the column, the
# unique one_pending_rebalance_per_pie too: the database side is therefore written out.
DATABASE = [
    "DROP INDEX trading_intent_pie_id_21f83255",
    "CREATE INDEX intent_pie ON trading_intent (pie_id) WHERE pie_id IS NOT NULL",
    "ALTER TABLE trading_intent DROP CONSTRAINT one_intent_per_occurrence",
    "CREATE UNIQUE INDEX one_intent_per_occurrence ON trading_intent (schedule_id, "
    "occurrence_date) WHERE schedule_id IS NOT NULL",
]
DATABASE_BACK = [
    "DROP INDEX one_intent_per_occurrence",
    "ALTER TABLE trading_intent ADD CONSTRAINT one_intent_per_occurrence "
    "UNIQUE (schedule_id, occurrence_date)",
    "DROP INDEX intent_pie",
    "CREATE INDEX trading_intent_pie_id_21f83255 ON trading_intent (pie_id)",
]

STATE = [
    migrations.RemoveConstraint(model_name="intent", name="one_intent_per_occurrence"),
    migrations.AlterField(
        model_name="intent",
        name="pie",
        field=models.ForeignKey(
            blank=True,
            db_index=False,
            null=True,
            on_delete=django.db.models.deletion.PROTECT,
            related_name="intents",
            to="pies.pie",
        ),
    ),
    migrations.AddIndex(
        model_name="intent",
        index=models.Index(
            condition=models.Q(("pie__isnull", False)), fields=["pie"], name="intent_pie"
        ),
    ),
    migrations.AddConstraint(
        model_name="intent",
        constraint=models.UniqueConstraint(
            condition=models.Q(("schedule__isnull", False)),
            fields=("schedule", "occurrence_date"),
            name="one_intent_per_occurrence",
        ),
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("pies", "0004_slice_off_pie"),
        ("trading", "0021_key_functions_search_path"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(DATABASE, DATABASE_BACK)],
            state_operations=STATE,
        )
    ]
