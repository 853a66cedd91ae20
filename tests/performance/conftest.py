"""A short history through the real engine: Monday to Friday, 2-6 March 2026."""

from __future__ import annotations

import pytest

from tests.performance.helpers import (
    FRI,
    MON,
    THU,
    TUE,
    WED,
    close_price,
    investor_account,
    window_on,
)
from tests.trading.engine_helpers import plain_user
from trading.books import verify_books
from trading.models import Security


@pytest.fixture
def vti():
    security = Security.objects.create(symbol="VTI", name="Total Stock Market")
    for day, price in ((MON, "100.00"), (TUE, "110.00"), (WED, "99.00")):
        close_price(security, day, price)
    return security


@pytest.fixture
def history(vti):
    """1,000 deposited Tuesday (10 shares at Monday's 100), 495 withdrawn Thursday (5 shares
    at Wednesday's 99); closes 100, 110, 99, 100, 102."""
    account = investor_account(plain_user("alice"), opened=MON)
    window_on(TUE, (account, "deposit", "1000.00"))
    window_on(THU, (account, "withdrawal", "495.00"))
    close_price(vti, THU, "100.00")
    close_price(vti, FRI, "102.00")
    assert verify_books() == []
    return account
