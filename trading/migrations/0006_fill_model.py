"""The fill model of allocation.md, Execution: what a block row hands to allocation, and what a
withdrawal paid.

- ``BlockOrder.buy_amount`` (the buys' amounts) and ``limit_price`` (a net sell's limit), so a
  post chunk computes every account's result from the block row alone. Blocks written before
  get their buy amounts from their orders (their limit stays empty: they were sized at w).
- ``Intent.amount_paid``: filled for the withdrawals already done from their ledger entries.
"""

from decimal import Decimal

from django.db import migrations, models

BLOCK_BUY_AMOUNTS = """
    UPDATE trading_blockorder b SET buy_amount = o.total
    FROM (
        SELECT window_id, security_id, SUM(amount) AS total FROM trading_order
        WHERE side = 'buy' AND status IN ('planned', 'filled')
        GROUP BY window_id, security_id
    ) o
    WHERE o.window_id = b.window_id AND o.security_id = b.security_id
"""
AMOUNTS_PAID = """
    UPDATE trading_intent t
    SET amount_paid = COALESCE((
        SELECT -SUM(e.amount) FROM trading_ledgerentry e
        WHERE e.intent_id = t.id AND e.account_id = t.account_id AND e.kind = 'withdrawal'
    ), 0)
    WHERE t.kind = 'withdrawal' AND t.status = 'done'
"""


class Migration(migrations.Migration):
    dependencies = [("trading", "0005_window_fillfactor")]

    operations = [
        migrations.AddField(
            model_name="blockorder",
            name="buy_amount",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("0"),
                help_text="Sum of the planned buy amounts.",
                max_digits=18,
            ),
        ),
        migrations.AddField(
            model_name="blockorder",
            name="limit_price",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text="A net sell's limit price.",
                max_digits=18,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="intent",
            name="amount_paid",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.RunSQL(BLOCK_BUY_AMOUNTS, migrations.RunSQL.noop),
        migrations.RunSQL(AMOUNTS_PAID, migrations.RunSQL.noop),
    ]
