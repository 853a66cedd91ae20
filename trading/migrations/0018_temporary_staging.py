"""The staging tables become temporary, per database session (``trading.window.staging`` creates
them and says why): the shared unlogged tables of migration 0012 go."""

from importlib import import_module

from django.db import migrations

# As migration 0012 made them (for the way back).
STAGES = import_module("trading.migrations.0012_scale_staging").STAGES


class Migration(migrations.Migration):
    dependencies = [("trading", "0017_bulk_keys_and_window_index")]

    operations = [
        migrations.RunSQL(
            [f"DROP TABLE public.{table}" for table in STAGES],
            [
                f"CREATE UNLOGGED TABLE public.{table} ({columns})"
                for table, columns in STAGES.items()
            ],
        )
    ]
