"""The demo has a year of snapshots, so the chart is not empty on ``make run``."""

from __future__ import annotations

import pytest
from django.utils import timezone

from trading.calendar import close_of, market_date
from trading.demo import seed_demo
from trading.models import Account, Snapshot
from trading.performance import account_performance
from trading.valuation import account_value

pytestmark = pytest.mark.django_db


def test_the_demo_accounts_have_a_year_of_snapshots_that_match_their_values():
    seed_demo()
    today = market_date(timezone.now())
    for account in Account.objects.investor():
        snapshots = Snapshot.objects.filter(account=account).order_by("day")
        assert snapshots.count() >= 250
        last = snapshots.last()
        assert last is not None
        assert last.value == account_value(account=account, at=close_of(last.day))
        yearly = account_performance(account.pk, "1Y", today=today)
        assert yearly.twr is not None and yearly.mwr is not None
        everything = account_performance(account.pk, "ALL", today=today)
        assert everything.gain == everything.value_end - everything.net_contributions
