"""The demo may put its ledger entries at the times its history happened.

``seed_demo`` makes a year of history in one run, so the window engine stamps every entry with
the seeding time. The append-only trigger now lets one thing through: within a transaction
that set ``pies.backdating_demo`` to ``on`` (only ``trading.demo`` does), an UPDATE that moves
``created_at`` earlier and changes nothing else. Every other UPDATE, and every DELETE, is
refused as before.
"""

from django.db import migrations

BACKDATING = """
CREATE OR REPLACE FUNCTION trading_ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('pies.backdating_demo', true) = 'on'
       AND NEW.created_at <= OLD.created_at
       AND (NEW.id, NEW.account_id, NEW.amount, NEW.kind, NEW.reference, NEW.window_id,
            NEW.intent_id, NEW.dividend_id)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.account_id, OLD.amount, OLD.kind, OLD.reference, OLD.window_id,
            OLD.intent_id, OLD.dividend_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'ledger entries are append-only: % refused on trading_ledgerentry', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION trading_ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused on trading_ledgerentry', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("trading", "0010_performance_snapshots")]

    operations = [migrations.RunSQL(BACKDATING, APPEND_ONLY)]
