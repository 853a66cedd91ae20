"""The keys the database checks with triggers instead of foreign-key constraints (trading
migration 0019): they guarantee what the constraints did, in READ COMMITTED transactions
(Django's, and every session of the application's).

Proven here, against PostgreSQL itself (raw SQL where the ORM would check first):
- every key of a model that says ``db_constraint=False`` has its triggers (its table's insert
  check names it, and three of its own), with the right key and parent, and no other key has
  any (a new unconstrained key without them fails);
- an INSERT statement that names a missing row writes none of its rows, whichever of them
  names it; NULL keys are not checked, and do not hide a missing one among them;
- an UPDATE cannot set a key to a missing row;
- a row still named cannot be deleted, nor its id changed, by any statement;
- between two sessions, as with a foreign key: a DELETE waits for an uncommitted row naming
  its row, then fails; an INSERT naming a row another session is deleting waits, then fails if
  the delete commits (and succeeds if it rolls back).

Outside READ COMMITTED the parent-side checks would read a snapshot older than rows committed
since, so a REPEATABLE READ (or SERIALIZABLE) delete of a parent is refused outright; a
TRUNCATE of a parent is refused while rows name it, and allowed with them (Django's flush).

Errors are SQLSTATE 23503 (foreign_key_violation), which Django raises as IntegrityError.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max

from trading.models import Account, Intent, LedgerEntry, Lot, Order, Position, TradeWindow

pytestmark = pytest.mark.django_db

# The triggers of the keys (migration 0019), found by name or by function.
_KEY_TRIGGERS = """
SELECT tgrelid::regclass::text, tgname, tgfoid::regproc::text, tgnargs, tgargs, tgenabled
FROM pg_trigger
WHERE NOT tgisinternal
  AND (tgname ~ '^(keys_exist|key_changed|named_by|id_named_by|truncate_named_by)(_|$)'
       OR tgfoid::regproc::text ~ '^books_key')
"""

_FOREIGN_KEYS = """
SELECT c.conrelid::regclass::text, a.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
WHERE c.contype = 'f'
"""


def _unconstrained_keys() -> set[tuple[str, str, str]]:
    """(table, key column, parent table) of every foreign key the models leave unconstrained."""
    keys = set()
    for label in ("trading", "pies"):
        for model in apps.get_app_config(label).get_models():
            if not model._meta.managed or model._meta.proxy:  # no table of its own
                continue
            for field in model._meta.local_fields:
                if isinstance(field, models.ForeignKey) and not field.db_constraint:
                    # The trigger functions look the parent up by ``id``.
                    assert field.target_field.column == "id", field
                    parent = field.related_model._meta.db_table
                    keys.add((model._meta.db_table, field.column, parent))
    return keys


def _fetch(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _execute(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _refused(work: Callable[[], object]) -> IntegrityError:
    """``work`` fails as a key violation; its savepoint is rolled back, so the test goes on."""
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        work()
    assert refused.value.__cause__.sqlstate == "23503", refused.value  # foreign_key_violation
    return refused.value


def _missing(model: type[models.Model]) -> int:
    """An id no row of ``model`` has."""
    return (model.objects.aggregate(top=Max("id"))["top"] or 0) + 1_000_000


# The system accounts: no user to make (its password hash is most of a test's time).
@pytest.fixture
def house(db) -> Account:
    return Account.system("house")


@pytest.fixture
def external(db) -> Account:
    return Account.system("external")


@pytest.fixture
def positions(house, make_security) -> list[Position]:
    """Three of the house's positions (no slice), in three securities with no price."""
    return [
        Position.objects.create(account=house, security=make_security(symbol, None))
        for symbol in ("AAA", "BBB", "CCC")
    ]


def _new_lot(position_id: int) -> Lot:
    return Lot(
        position_id=position_id,
        acquired_on=date(2026, 1, 2),
        quantity=Decimal("1"),
        remaining_quantity=Decimal("1"),
        cost_basis=Decimal("10.00"),
        remaining_cost=Decimal("10.00"),
    )


def _lot(position_id: int) -> Lot:
    lot = _new_lot(position_id)
    lot.save()
    return lot


def _window() -> TradeWindow:
    return TradeWindow.objects.create(
        trade_date=date(2026, 1, 2), session="adhoc", scheduled_at="2026-01-02T15:00Z"
    )


def _order(window: TradeWindow, position: Position) -> Order:
    return Order.objects.create(
        window=window,
        account_id=position.account_id,
        position=position,
        security_id=position.security_id,
        side="buy",
        amount=Decimal("10.00"),
        reason="deposit",
    )


# --- Which keys -------------------------------------------------------------------------------


def _expected_triggers(keys: set[tuple[str, str, str]]) -> set[tuple]:
    """(table, trigger, function, its arguments as (key, parent) or (child, key) pairs)."""
    expected = set()
    for table in {table for table, _, _ in keys}:
        # One check of all the table's keys after an INSERT statement.
        pairs = frozenset((column, parent) for child, column, parent in keys if child == table)
        expected.add((table, "keys_exist", "books_keys_exist", pairs))
    for table, column, parent in keys:
        child = frozenset({(table, column)})
        expected |= {
            (table, f"key_changed_{column}", "books_key_exists", frozenset({(column, parent)})),
            (parent, f"named_by_{table}_{column}", "books_keys_unreferenced", child),
            (parent, f"id_named_by_{table}_{column}", "books_key_unreferenced", child),
            (parent, f"truncate_named_by_{table}_{column}", "books_keys_truncated", child),
        }
    return expected


def test_every_unconstrained_key_has_its_triggers_and_no_other_key_has_any():
    keys = _unconstrained_keys()
    assert len(keys) >= 17  # the 17 keys of migration 0019, at least

    rows = _fetch(_KEY_TRIGGERS)
    actual = set()
    for table, name, function, count, args, _ in rows:
        # tgargs: the arguments, each ending in a NUL byte; taken in pairs
        arguments = bytes(args).decode().split("\0")[:count]
        pairs = frozenset(zip(arguments[::2], arguments[1::2], strict=True))
        actual.add((table, name, function, pairs))
    assert actual == _expected_triggers(keys)
    # Disabled (ALTER TABLE ... DISABLE TRIGGER), a trigger checks nothing.
    assert {enabled for *_, enabled in rows} == {"O"}


def test_no_key_is_checked_by_both_triggers_and_a_constraint():
    # Each would cost what the triggers save: a query per row at commit.
    constrained = set(_fetch(_FOREIGN_KEYS))
    assert not {(table, column) for table, column, _ in _unconstrained_keys()} & constrained


# --- INSERT -----------------------------------------------------------------------------------

_ENTRIES = """
INSERT INTO trading_ledgerentry (account_id, amount, kind, reference, created_at)
VALUES (%s, 1.00, 'correction', 'keys', now()), (%s, -2.00, 'correction', 'keys', now()),
       (%s, 1.00, 'correction', 'keys', now())
"""

_LOTS = """
INSERT INTO trading_lot
    (position_id, order_id, acquired_on, quantity, remaining_quantity, cost_basis, remaining_cost)
SELECT position_id, NULL, DATE '2026-01-02', 1, 1, 10, 10
FROM unnest(%s::bigint[]) AS new(position_id)
"""


def test_one_entry_naming_a_missing_account_refuses_its_whole_statement(house, external):
    missing = _missing(Account)
    for accounts in (
        [missing, house.pk, external.pk],
        [house.pk, missing, external.pk],
        [house.pk, external.pk, missing],
    ):
        error = _refused(lambda accounts=accounts: _execute(_ENTRIES, accounts))
        # The message says which key and which id.
        assert '"account_id"' in str(error) and str(missing) in str(error)
        assert not LedgerEntry.objects.filter(reference="keys").exists()

    # Two rows naming one account count once: all three are accepted.
    _execute(_ENTRIES, [house.pk, external.pk, house.pk])
    assert LedgerEntry.objects.filter(reference="keys").count() == 3


def test_a_temporary_table_named_like_a_parent_does_not_answer_for_it(house, external):
    """The functions run with their own schema first and temporary tables last (migration
    0021): a session's temporary table named like a parent or a child changes nothing."""
    missing = _missing(Account)
    _execute("CREATE TEMPORARY TABLE trading_account (id bigint PRIMARY KEY)", [])
    try:
        _execute("INSERT INTO trading_account (id) VALUES (%s)", [missing])
        error = _refused(lambda: _execute(_ENTRIES, [missing, house.pk, external.pk]))
        assert str(missing) in str(error)
        assert not LedgerEntry.objects.filter(reference="keys").exists()

    finally:
        _execute("DROP TABLE pg_temp.trading_account", [])

    # The parent side: an empty temporary ``trading_ledgerentry`` does not make a window that
    # an entry names look unnamed.
    window = TradeWindow.objects.create(
        trade_date=date(2026, 1, 2), session="adhoc", scheduled_at="2026-01-02T15:00:00Z"
    )
    LedgerEntry.objects.create(
        account=house, amount=Decimal("1.00"), kind="correction", reference="keys", window=window
    )
    _execute("CREATE TEMPORARY TABLE trading_ledgerentry (window_id bigint)", [])
    try:
        _refused(lambda: _execute("DELETE FROM trading_tradewindow WHERE id = %s", [window.pk]))
    finally:
        _execute("DROP TABLE pg_temp.trading_ledgerentry", [])
    assert TradeWindow.objects.filter(pk=window.pk).exists()


def test_one_lot_naming_a_missing_position_refuses_its_whole_insert_select(positions):
    first, second, _ = (position.pk for position in positions)
    missing = _missing(Position)
    for named in ([first, missing, second], [first, first, missing], [missing]):
        _refused(lambda named=named: _execute(_LOTS, [named]))
        assert not Lot.objects.exists()

    _execute(_LOTS, [[first, first, second]])
    assert sorted(Lot.objects.values_list("position_id", flat=True)) == [first, first, second]


def test_the_orm_cannot_write_rows_naming_a_missing_row(house, positions):
    _refused(
        lambda: LedgerEntry.objects.create(
            account_id=_missing(Account),
            amount=Decimal("1.00"),
            kind="correction",
            reference="keys",
        )
    )
    # bulk_create: one statement, as the window writes rows
    named = [positions[0].pk, _missing(Position), positions[1].pk]
    _refused(lambda: Lot.objects.bulk_create([_new_lot(position_id) for position_id in named]))
    assert not LedgerEntry.objects.filter(reference="keys").exists()
    assert not Lot.objects.exists()


def test_null_keys_are_not_checked_and_hide_no_missing_one(house):
    intent = Intent.objects.create(account=house, kind="deposit", amount=10)
    entries = """
    INSERT INTO trading_ledgerentry
        (account_id, intent_id, dividend_id, window_id, amount, kind, reference, created_at)
    SELECT %s, intent_id, NULL, NULL, 1.00, 'deposit', 'nulls', now()
    FROM unnest(%s::bigint[]) AS new(intent_id)
    """
    # Dividend and window NULL in every row, intent in all but one.
    _execute(entries, [house.pk, [None, intent.pk, None]])
    assert LedgerEntry.objects.filter(reference="nulls").count() == 3
    assert LedgerEntry.objects.filter(reference="nulls", intent=intent).count() == 1

    _refused(lambda: _execute(entries, [house.pk, [None, _missing(Intent), None]]))
    assert LedgerEntry.objects.filter(reference="nulls").count() == 3


# --- UPDATE of a key --------------------------------------------------------------------------


def test_a_key_cannot_be_changed_to_a_missing_row(positions):
    first, second, _ = positions
    lot = _lot(first.pk)
    order = _order(_window(), first)

    _refused(lambda: Lot.objects.filter(pk=lot.pk).update(position_id=_missing(Position)))
    _refused(lambda: Order.objects.filter(pk=order.pk).update(window_id=_missing(TradeWindow)))
    lot.refresh_from_db()
    order.refresh_from_db()
    assert (lot.position_id, order.position_id) == (first.pk, first.pk)

    # To another row that exists: accepted.
    Lot.objects.filter(pk=lot.pk).update(position_id=second.pk)
    Order.objects.filter(pk=order.pk).update(position_id=second.pk, window_id=_window().pk)
    lot.refresh_from_db()
    order.refresh_from_db()
    assert (lot.position_id, order.position_id) == (second.pk, second.pk)


# --- DELETE and UPDATE of the named row ---------------------------------------------------------
# Raw SQL: Django's collector would refuse first (PROTECT). Positions and windows are named by
# no constraint of the rows made here, so only the triggers can refuse.


def test_a_row_still_named_cannot_be_deleted_by_any_statement(positions):
    named, unnamed, _ = positions
    _lot(named.pk)
    delete = "DELETE FROM trading_position WHERE id = ANY(%s)"

    _refused(lambda: _execute(delete, [[named.pk]]))
    # One named row refuses the whole statement.
    _refused(lambda: _execute(delete, [[unnamed.pk, named.pk]]))
    assert Position.objects.filter(pk__in=[named.pk, unnamed.pk]).count() == 2

    _execute(delete, [[unnamed.pk]])
    assert not Position.objects.filter(pk=unnamed.pk).exists()


def test_a_window_named_only_by_an_order_cannot_be_deleted(positions):
    # The order's window key was not checked by the database from migration 0017 to 0019.
    named, unnamed = _window(), _window()
    _order(named, positions[0])
    delete = "DELETE FROM trading_tradewindow WHERE id = %s"

    _refused(lambda: _execute(delete, [named.pk]))
    assert TradeWindow.objects.filter(pk=named.pk).exists()
    _execute(delete, [unnamed.pk])
    assert not TradeWindow.objects.filter(pk=unnamed.pk).exists()


def test_the_id_of_a_row_still_named_cannot_change(positions):
    named, unnamed, _ = positions
    _lot(named.pk)
    move = "UPDATE trading_position SET id = id + 1000000 WHERE id = %s"

    _refused(lambda: _execute(move, [named.pk]))
    assert Position.objects.filter(pk=named.pk).exists()
    _execute(move, [unnamed.pk])
    assert Position.objects.filter(pk=unnamed.pk + 1_000_000).exists()


# --- Two sessions -------------------------------------------------------------------------------


class Session(threading.Thread):
    """``work`` in a database session of its own (Django's connection is per thread)."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            # A broken test fails instead of waiting for a lock for ever.
            _execute("SET lock_timeout = '10s'", [])
            self.work()
        except BaseException as error:  # asserted on by the test
            self.error = error
        finally:
            self.finished.set()
            connection.close()


def _waits_for_a_lock(statement: str) -> None:
    """Another session's statement beginning ``statement`` waits for a lock (within 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        [(waiting,)] = _fetch(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE %s",
            [statement + "%"],
        )
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError(f"no session waits for a lock in {statement!r}")


def _join(*sessions: Session) -> None:
    """Wait for the sessions that started (10 s at most)."""
    for session in sessions:
        if session.ident is not None:
            session.join(timeout=10)
    assert not any(session.is_alive() for session in sessions), "a session hung"


def _waits_while_held(
    holder: Session, held: threading.Event, release: threading.Event, waiter: Session, what: str
) -> None:
    """``holder`` runs until ``held``; then ``waiter``'s statement (beginning ``what``) must wait
    for a lock until ``release``; both sessions end before this returns."""
    holder.start()
    try:
        assert held.wait(10)
        waiter.start()
        assert not waiter.finished.wait(0.5), waiter.error or f"{what!r} did not wait"
        _waits_for_a_lock(what)
    finally:
        release.set()
        _join(holder, waiter)


_DELETE_POSITION = "DELETE FROM trading_position WHERE id = %s"
_INSERT_LOT = """INSERT INTO trading_lot
    (position_id, acquired_on, quantity, remaining_quantity, cost_basis, remaining_cost)
VALUES (%s, DATE '2026-01-02', 1, 1, 10, 10)"""


@pytest.mark.django_db(transaction=True)
def test_a_delete_waits_for_an_uncommitted_row_naming_its_row_then_is_refused(positions):
    position = positions[0]
    inserted, commit = threading.Event(), threading.Event()

    def insert() -> None:
        with transaction.atomic():
            _execute(_INSERT_LOT, [position.pk])
            inserted.set()
            assert commit.wait(10), "never told to commit"

    inserter = Session(insert)
    deleter = Session(lambda: _execute(_DELETE_POSITION, [position.pk]))
    # The new lot locked its position (FOR KEY SHARE), so the delete waits for its commit.
    _waits_while_held(inserter, inserted, commit, deleter, "DELETE FROM trading_position")

    assert inserter.error is None, inserter.error
    assert isinstance(deleter.error, IntegrityError), (
        f"the delete was not refused: {deleter.error!r}"
    )
    assert deleter.error.__cause__.sqlstate == "23503"
    assert Position.objects.filter(pk=position.pk).exists()
    assert Lot.objects.filter(position=position).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delete_ends_in", ["commit", "rollback"])
def test_an_insert_naming_a_row_being_deleted_waits_and_fails_only_if_the_delete_commits(
    positions, delete_ends_in
):
    position = positions[0]
    deleted, end = threading.Event(), threading.Event()

    def delete() -> None:
        with transaction.atomic():
            _execute(_DELETE_POSITION, [position.pk])  # nothing names it yet: accepted
            deleted.set()
            assert end.wait(10), "never told to end"
            transaction.set_rollback(delete_ends_in == "rollback")

    deleter = Session(delete)
    inserter = Session(lambda: _execute(_INSERT_LOT, [position.pk]))
    # The insert's check locks the position, which the delete holds until it ends.
    _waits_while_held(deleter, deleted, end, inserter, "INSERT INTO trading_lot")

    assert deleter.error is None, deleter.error
    if delete_ends_in == "commit":
        assert isinstance(inserter.error, IntegrityError), (
            f"the insert was not refused: {inserter.error!r}"
        )
        assert inserter.error.__cause__.sqlstate == "23503"
        assert not Position.objects.filter(pk=position.pk).exists()
        assert not Lot.objects.exists()
    else:
        assert inserter.error is None, inserter.error
        assert Lot.objects.filter(position=position).count() == 1


@pytest.mark.django_db(transaction=True)
def test_outside_read_committed_a_delete_is_refused_even_when_a_row_naming_its_row_committed_since(
    positions,
):
    position = positions[0]
    snapshot, go = threading.Event(), threading.Event()

    def delete() -> None:
        with transaction.atomic():
            _execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", [])
            _fetch("SELECT 1")  # the transaction's snapshot: no lot names the position
            snapshot.set()
            assert go.wait(10), "never told to go on"
            _execute(_DELETE_POSITION, [position.pk])

    deleter = Session(delete)
    deleter.start()
    try:
        assert snapshot.wait(10)
        _lot(position.pk)  # committed: this test's session is in autocommit
    finally:
        go.set()
        _join(deleter)

    assert Position.objects.filter(pk=position.pk).exists(), "the lot's position was deleted"
    # Its snapshot does not show the lot: the check cannot see it, so the delete is refused for
    # its isolation level (feature_not_supported), as any such delete is.
    assert getattr(deleter.error.__cause__, "sqlstate", None) == "0A000", deleter.error


# --- TRUNCATE ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # committed rows: no deferred check pending
def test_a_truncate_of_a_named_table_is_refused_and_of_both_at_once_is_not(positions):
    _lot(positions[0].pk)
    error = _refused(lambda: _execute("TRUNCATE trading_position", []))
    assert "trading_lot" in str(error)
    assert Position.objects.filter(pk=positions[0].pk).exists()

    # As Django's flush does: every table that names them, in the same statement.
    _execute("TRUNCATE trading_position, trading_lot, trading_order, trading_disposal CASCADE", [])
    assert not Position.objects.exists()
