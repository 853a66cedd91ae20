"""Paying recorded dividends on their pay date (product.md, Dividends).

Per position: the shares held at the start of the ex-date (lots acquired before it, minus what
was sold before it) x the amount per share, rounded down to cents. Each account gets one
``dividend`` ledger entry (the sum over its positions), the outside world the counter-entry of
the whole payment (the total shares x the amount, rounded down), and the house the residue
between the two. All of it is one set-based statement, in the same transaction as the
conditional UPDATE that marks the dividend paid, so it pays once however often it runs.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from trading.calendar import market_date
from trading.models import Account, AccountKind, Dividend, LedgerEntry, LedgerKind
from trading.money import ZERO

_PAY_SQL = """
WITH held AS (
    SELECT p.account_id,
           COALESCE(bought.quantity, 0) - COALESCE(sold.quantity, 0) AS shares
    FROM trading_position p
    LEFT JOIN LATERAL (
        SELECT SUM(l.quantity) AS quantity FROM trading_lot l
        WHERE l.position_id = p.id AND l.acquired_on < %(ex_date)s
    ) bought ON TRUE
    LEFT JOIN LATERAL (
        SELECT SUM(d.quantity) AS quantity
        FROM trading_disposal d JOIN trading_lot l ON l.id = d.lot_id
        WHERE l.position_id = p.id AND d.sold_on < %(ex_date)s
    ) sold ON TRUE
    WHERE p.security_id = %(security_id)s
),
credits AS (
    SELECT account_id,
           SUM(floor(shares * %(per_share)s * 100) / 100) AS amount,
           SUM(shares) AS shares
    FROM held WHERE shares > 0 GROUP BY account_id
),
totals AS (
    SELECT floor(COALESCE(SUM(shares), 0) * %(per_share)s * 100) / 100 AS paid,
           COALESCE(SUM(amount), 0) AS credited
    FROM credits
),
entries AS (
    SELECT account_id, amount, %(dividend_kind)s AS kind FROM credits WHERE amount > 0
    UNION ALL
    SELECT %(house_id)s, paid - credited, %(residue_kind)s FROM totals WHERE paid > credited
    UNION ALL
    SELECT %(external_id)s, -paid, %(dividend_kind)s FROM totals WHERE paid > 0
),
inserted AS (
    INSERT INTO trading_ledgerentry
        (account_id, amount, kind, reference, dividend_id, window_id, intent_id, created_at)
    SELECT account_id, amount, kind, %(reference)s, %(dividend_id)s, NULL, NULL, %(now)s
    FROM entries
    RETURNING account_id, amount
)
UPDATE trading_account AS a SET cash = a.cash + moved.amount
FROM (SELECT account_id, SUM(amount) AS amount FROM inserted GROUP BY account_id) AS moved
WHERE a.id = moved.account_id
"""


@transaction.atomic
def pay_dividend(*, dividend_id: int, today: date, now: datetime | None = None) -> Decimal | None:
    """Pay one dividend if it is due and unpaid; returns the amount paid out (None if it was
    not due or someone else paid it)."""
    now = now or timezone.now()
    # The conditional UPDATE is the claim: a concurrent run waits on the row lock, then finds
    # paid_at set and pays nothing.
    claimed = Dividend.objects.filter(
        pk=dividend_id, paid_at__isnull=True, pay_date__lte=today
    ).update(paid_at=now)
    if not claimed:
        return None
    dividend = Dividend.objects.get(pk=dividend_id)
    house = Account.system(AccountKind.HOUSE)
    external = Account.system(AccountKind.EXTERNAL)
    with connection.cursor() as cursor:
        cursor.execute(
            _PAY_SQL,
            {
                "ex_date": dividend.ex_date,
                "security_id": dividend.security_id,
                "per_share": dividend.amount_per_share,
                "house_id": house.pk,
                "external_id": external.pk,
                "dividend_kind": LedgerKind.DIVIDEND.value,
                "residue_kind": LedgerKind.RESIDUE.value,
                "reference": f"dividend:{dividend.pk}",
                "dividend_id": dividend.pk,
                "now": now,
            },
        )
    paid = (
        LedgerEntry.objects.filter(dividend=dividend, account=external).aggregate(
            total=Sum("amount")
        )["total"]
        or ZERO
    )
    return -paid


def pay_due_dividends(*, today: date | None = None) -> dict[int, Decimal]:
    """Pay every recorded dividend whose pay date has come (one transaction per dividend, so
    one failure does not hold back the others' payments). Returns {dividend id: amount paid}."""
    today = today or market_date(timezone.now())
    due = Dividend.objects.filter(paid_at__isnull=True, pay_date__lte=today).order_by(
        "pay_date", "id"
    )
    paid: dict[int, Decimal] = {}
    for dividend_id in due.values_list("id", flat=True):
        amount = pay_dividend(dividend_id=dividend_id, today=today)
        if amount is not None:
            paid[dividend_id] = amount
    return paid
