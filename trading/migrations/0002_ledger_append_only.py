"""The ledger is append-only in the database itself: UPDATE and DELETE of entries are refused.

Corrections are reversing entries. No code path (ORM, raw SQL, the admin) can rewrite an
entry. TRUNCATE is deliberately not trapped: it needs table ownership (an operator's act, not
the app's), and Django's test flush between transactional tests uses it.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION trading_ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused on trading_ledgerentry', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trading_ledger_no_update_delete
    BEFORE UPDATE OR DELETE ON trading_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION trading_ledger_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS trading_ledger_no_update_delete ON trading_ledgerentry;
DROP FUNCTION IF EXISTS trading_ledger_refuse_change();
"""


def create_system_accounts(apps, schema_editor):
    Account = apps.get_model("trading", "Account")
    for kind in ("house", "external", "clearing"):
        Account.objects.get_or_create(owner=None, kind=kind)


class Migration(migrations.Migration):
    dependencies = [("trading", "0001_initial")]

    operations = [
        migrations.RunSQL(CREATE, DROP),
        migrations.RunPython(create_system_accounts, migrations.RunPython.noop),
    ]
