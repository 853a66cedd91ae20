"""The books' keys checked per statement instead of per row (``trading.books`` says why).

A foreign key checks each new row with a query of its own, at commit: a window writes millions
of rows, and those checks were a sixth of its time. Here each key's foreign-key constraint is
replaced by triggers that keep what it guaranteed:

- after an INSERT statement, the statement's new rows (a transition table) are checked in one
  query per key: every key names a row of its parent, which is locked FOR KEY SHARE until
  commit, as a foreign key locks it (a concurrent DELETE of the parent waits, then fails);
- an UPDATE that changes a key checks that row's new key (the books never change keys: this
  is for completeness, and costs nothing when the key is not set);
- after a DELETE on the parent, one query refuses it if a deleted row is still named (PROTECT,
  as the models say); an UPDATE of a parent's id is refused the same way; so is a TRUNCATE of
  the parent that leaves rows naming it (truncating both at once, as Django's test flush does,
  is fine).

The parent-side checks read the transaction's snapshot, so outside READ COMMITTED (where a
row committed since the transaction began is invisible to them; a foreign key's check sees
it) a parent's DELETE or change of id is refused. Django and every session of the application
use READ COMMITTED.

Failures are SQLSTATE 23503 (foreign_key_violation), so Django raises IntegrityError as it did
(0A000, feature_not_supported, for the isolation refusal). Unlike the deferred constraints they
replace, the checks run at the end of each statement: the application always writes a parent
before the rows that name it. A parent locked FOR KEY SHARE by an INSERT stays locked until its
transaction ends (a deferred foreign key locked it only at commit): a window's chunk holds its
accounts' rows so for a few seconds; edits of those accounts are refused meanwhile anyway
(trading.ownership).
"""

import django.db.models.deletion
from django.db import migrations, models

# (table, key column, parent table): the keys of the rows a window writes in bulk. The first
# six lost their constraints in 0017 (verify_books checked them); they are checked again here.
KEYS = [
    ("trading_order", "window_id", "trading_tradewindow"),
    ("trading_order", "account_id", "trading_account"),
    ("trading_order", "security_id", "trading_security"),
    ("trading_ledgerentry", "window_id", "trading_tradewindow"),
    ("trading_disposal", "account_id", "trading_account"),
    ("trading_disposal", "security_id", "trading_security"),
    ("trading_order", "position_id", "trading_position"),
    ("trading_order", "intent_id", "trading_intent"),
    ("trading_ledgerentry", "account_id", "trading_account"),
    ("trading_ledgerentry", "intent_id", "trading_intent"),
    ("trading_ledgerentry", "dividend_id", "trading_dividend"),
    ("trading_lot", "position_id", "trading_position"),
    ("trading_lot", "order_id", "trading_order"),
    ("trading_disposal", "lot_id", "trading_lot"),
    ("trading_disposal", "order_id", "trading_order"),
    ("trading_windowaccount", "account_id", "trading_account"),
    ("trading_windowaccount", "window_id", "trading_tradewindow"),
]

FUNCTIONS = """
-- After an INSERT statement on a table: every key of its new rows names a row of the key's
-- parent, locked FOR KEY SHARE until commit. TG_ARGV: key column, parent table, key column,
-- parent table, ... (one query finds the distinct keys, one per key locks their parents).
CREATE FUNCTION books_keys_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    columns text := '';
    key_ids record;
    parent text;
    found bigint;
    missing bigint;
BEGIN
    FOR i IN 0 .. TG_NARGS / 2 - 1 LOOP
        columns := columns || CASE WHEN i > 0 THEN ', ' ELSE '' END
            || format('(%s, ARRAY(SELECT DISTINCT %I FROM new_rows WHERE %I IS NOT NULL)'
                      '::bigint[])', i, TG_ARGV[2 * i], TG_ARGV[2 * i]);
    END LOOP;
    FOR key_ids IN EXECUTE format(
        'SELECT v.i, v.ids FROM (VALUES %s) AS v(i, ids) WHERE cardinality(v.ids) > 0', columns)
    LOOP
        parent := TG_ARGV[2 * key_ids.i + 1];
        EXECUTE format('SELECT 1 FROM %I p WHERE p.id = ANY($1) FOR KEY SHARE OF p', parent)
            USING key_ids.ids;
        GET DIAGNOSTICS found = ROW_COUNT;
        IF found < cardinality(key_ids.ids) THEN
            EXECUTE format('SELECT k.id FROM unnest($1) AS k(id) WHERE NOT EXISTS '
                           '(SELECT 1 FROM %I p WHERE p.id = k.id) LIMIT 1', parent)
                USING key_ids.ids INTO missing;
            RAISE EXCEPTION 'insert on table "%" violates its key "%": % is not in "%"',
                TG_TABLE_NAME, TG_ARGV[2 * key_ids.i], missing, parent
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

-- After an UPDATE that changed a row's key (TG_ARGV[0]): it names a row of the parent.
CREATE FUNCTION books_key_exists() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key text := TG_ARGV[0];
    parent text := TG_ARGV[1];
    value bigint;
    found bigint;
BEGIN
    EXECUTE format('SELECT ($1).%I', key) USING NEW INTO value;
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT 1 FROM %I p WHERE p.id = $1 FOR KEY SHARE OF p', parent) USING value;
    GET DIAGNOSTICS found = ROW_COUNT;
    IF found = 0 THEN
        RAISE EXCEPTION 'update on table "%" violates its key "%": % is not in "%"',
            TG_TABLE_NAME, key, value, parent USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

-- After a DELETE statement on a parent: none of its deleted rows is named by the table
-- (TG_ARGV[0]) through its key (TG_ARGV[1]).
CREATE FUNCTION books_keys_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    child text := TG_ARGV[0];
    key text := TG_ARGV[1];
    referenced bigint;
    deleted boolean;
BEGIN
    EXECUTE format('SELECT c.%2$I FROM %1$I c WHERE c.%2$I IN (SELECT id FROM old_rows) LIMIT 1',
                   child, key) INTO referenced;
    IF referenced IS NOT NULL THEN
        RAISE EXCEPTION 'delete on table "%" violates the key "%" of table "%": % is still named',
            TG_TABLE_NAME, key, child, referenced USING ERRCODE = 'foreign_key_violation';
    END IF;
    -- The check read this transaction's snapshot: outside READ COMMITTED it misses a row
    -- committed since the transaction began (a foreign key's check would see it), so refuse.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        EXECUTE 'SELECT EXISTS (SELECT 1 FROM old_rows)' INTO deleted;
        IF deleted THEN
            RAISE EXCEPTION 'delete on table "%" needs READ COMMITTED: the key "%" of table "%" '
                'is checked against rows committed since', TG_TABLE_NAME, key, child
                USING ERRCODE = 'feature_not_supported';
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- After an UPDATE of a parent's id: the old id is not named by the table (TG_ARGV[0]) through
-- its key (TG_ARGV[1]).
CREATE FUNCTION books_key_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    child text := TG_ARGV[0];
    key text := TG_ARGV[1];
    found bigint;
BEGIN
    EXECUTE format('SELECT 1 FROM %1$I c WHERE c.%2$I = $1 LIMIT 1', child, key) USING OLD.id;
    GET DIAGNOSTICS found = ROW_COUNT;
    IF found > 0 THEN
        RAISE EXCEPTION 'update of id on table "%" violates the key "%" of table "%": % is '
            'still named', TG_TABLE_NAME, key, child, OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN  -- as above
        RAISE EXCEPTION 'update of id on table "%" needs READ COMMITTED: the key "%" of table '
            '"%" is checked against rows committed since', TG_TABLE_NAME, key, child
            USING ERRCODE = 'feature_not_supported';
    END IF;
    RETURN NULL;
END $$;

-- After a TRUNCATE of a parent: the table (TG_ARGV[0]) names none of its rows any more
-- through its key (TG_ARGV[1]): it was truncated too, in the same statement (Django's test
-- flush truncates every table at once), or holds no key.
CREATE FUNCTION books_keys_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    child text := TG_ARGV[0];
    key text := TG_ARGV[1];
    found bigint;
BEGIN
    EXECUTE format('SELECT 1 FROM %1$I c WHERE c.%2$I IS NOT NULL LIMIT 1', child, key);
    GET DIAGNOSTICS found = ROW_COUNT;
    IF found > 0 THEN
        RAISE EXCEPTION 'truncate of table "%" violates the key "%" of table "%", which still '
            'names its rows', TG_TABLE_NAME, key, child USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
"""


def _key_triggers(table: str, key: str, parent: str) -> str:
    """The four triggers of one key besides its table's insert check."""
    named = f"{table}_{key}"
    return f"""
CREATE TRIGGER key_changed_{key} AFTER UPDATE OF {key} ON {table}
    FOR EACH ROW WHEN (OLD.{key} IS DISTINCT FROM NEW.{key})
    EXECUTE FUNCTION books_key_exists('{key}', '{parent}');
CREATE TRIGGER named_by_{named} AFTER DELETE ON {parent}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    EXECUTE FUNCTION books_keys_unreferenced('{table}', '{key}');
CREATE TRIGGER id_named_by_{named} AFTER UPDATE OF id ON {parent}
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION books_key_unreferenced('{table}', '{key}');
CREATE TRIGGER truncate_named_by_{named} AFTER TRUNCATE ON {parent}
    FOR EACH STATEMENT EXECUTE FUNCTION books_keys_truncated('{table}', '{key}');
"""


def _insert_trigger(table: str) -> str:
    """A table's check of all its keys after an INSERT statement."""
    arguments = ", ".join(f"'{key}', '{parent}'" for child, key, parent in KEYS if child == table)
    return f"""
CREATE TRIGGER keys_exist AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION books_keys_exist({arguments});
"""


def _drop_key_triggers(table: str, key: str, parent: str) -> str:
    named = f"{table}_{key}"
    return f"""
DROP TRIGGER key_changed_{key} ON {table};
DROP TRIGGER named_by_{named} ON {parent};
DROP TRIGGER id_named_by_{named} ON {parent};
DROP TRIGGER truncate_named_by_{named} ON {parent};
"""


TABLES = sorted({table for table, _, _ in KEYS})
CREATE = (
    FUNCTIONS
    + "".join(_insert_trigger(table) for table in TABLES)
    + "".join(_key_triggers(*key) for key in KEYS)
)
DROP = (
    "".join(f"DROP TRIGGER keys_exist ON {table};\n" for table in TABLES)
    + "".join(_drop_key_triggers(*key) for key in KEYS)
    + """
DROP FUNCTION books_keys_exist();
DROP FUNCTION books_key_exists();
DROP FUNCTION books_keys_unreferenced();
DROP FUNCTION books_key_unreferenced();
DROP FUNCTION books_keys_truncated();
"""
)


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0018_temporary_staging"),
    ]

    operations = [
        migrations.AlterField(
            model_name="disposal",
            name="lot",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="disposals",
                to="trading.lot",
            ),
        ),
        migrations.AlterField(
            model_name="disposal",
            name="order",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="disposals",
                to="trading.order",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="trading.account",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="dividend",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="trading.dividend",
            ),
        ),
        migrations.AlterField(
            model_name="ledgerentry",
            name="intent",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ledger_entries",
                to="trading.intent",
            ),
        ),
        migrations.AlterField(
            model_name="lot",
            name="order",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lots",
                to="trading.order",
            ),
        ),
        migrations.AlterField(
            model_name="lot",
            name="position",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="lots",
                to="trading.position",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="intent",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="orders",
                to="trading.intent",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="position",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="orders",
                to="trading.position",
            ),
        ),
        migrations.AlterField(
            model_name="windowaccount",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="windows",
                to="trading.account",
            ),
        ),
        migrations.AlterField(
            model_name="windowaccount",
            name="window",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="accounts",
                to="trading.tradewindow",
            ),
        ),
        # after the constraints are gone (reversed: the triggers go first)
        migrations.RunSQL(CREATE, DROP),
    ]
