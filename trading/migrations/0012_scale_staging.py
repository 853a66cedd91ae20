"""The window engine's staging tables (``trading.window.staging`` describes them): unlogged,
keyless, empty between transactions. A chunk COPYs its rows into them and applies them with a
few set-based statements; the rows never outlive the chunk's transaction."""

from django.db import migrations

STAGES = {
    "trading_stage_order": (
        "account_id bigint, slice_id bigint, position_id bigint, security_id bigint, "
        "intent_id bigint, side text, status text, amount numeric, quantity numeric, "
        "reason text, explanation text"
    ),
    "trading_stage_broker_fill": (
        "security_id bigint, side text, quantity numeric, price numeric, broker_reference text"
    ),
    "trading_stage_fill": (
        "order_id bigint, position_id bigint, side text, quantity numeric, price numeric, "
        "filled_amount numeric"
    ),
    "trading_stage_disposal": (
        "lot_id bigint, order_id bigint, account_id bigint, security_id bigint, "
        "acquired_on date, quantity numeric, proceeds numeric, cost numeric, gain numeric, "
        "term text, lot_remaining_quantity numeric, lot_remaining_cost numeric"
    ),
    "trading_stage_ledger": (
        "account_id bigint, amount numeric, kind text, reference text, intent_id bigint"
    ),
}


class Migration(migrations.Migration):
    dependencies = [("trading", "0011_investor_ui_demo_backdating")]

    operations = [
        migrations.RunSQL(
            [f"CREATE UNLOGGED TABLE {table} ({columns})" for table, columns in STAGES.items()],
            [f"DROP TABLE {table}" for table in STAGES],
        )
    ]
