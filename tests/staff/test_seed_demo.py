from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from trading.demo import demo_fingerprint
from trading.models import (
    Disposal,
    Dividend,
    Intent,
    LedgerEntry,
    Lot,
    Price,
    RecurringDeposit,
    Security,
    TradeWindow,
)

pytestmark = pytest.mark.django_db


def test_seed_demo_twice_leaves_the_same_data_and_balanced_books(capsys):
    from trading.books import verify_books

    call_command("seed_demo")
    first = demo_fingerprint()
    # Each cash movement carries the time its history happened, not the seeding time: the
    # last window of the demo ran 8 days ago (issue 14).
    recent = timezone.now() - timedelta(days=7)
    investors = LedgerEntry.objects.filter(account__owner__username__in=["alice", "bob"])
    assert investors.filter(window__isnull=False).exists()
    assert not investors.filter(created_at__gte=recent).exists()
    for entry in investors.filter(window__isnull=False).select_related("window"):
        assert entry.created_at == entry.window.started_at
    counts = {
        model.__name__: model.objects.count()
        for model in (
            Security,
            Price,
            TradeWindow,
            Lot,
            Disposal,
            Dividend,
            Intent,
            RecurringDeposit,
        )
    }
    call_command("seed_demo")
    assert demo_fingerprint() == first
    assert counts == {
        model.__name__: model.objects.count()
        for model in (
            Security,
            Price,
            TradeWindow,
            Lot,
            Disposal,
            Dividend,
            Intent,
            RecurringDeposit,
        )
    }
    assert verify_books() == []
    out = capsys.readouterr().out
    assert "already there, left alone" in out

    # Rich enough to show everything.
    assert counts["Security"] >= 30
    assert counts["Price"] >= 30 * 250
    users = get_user_model().objects
    for username in ("alice", "bob", "ops", "admin"):
        assert users.filter(username=username).exists()
    assert users.get(username="alice").check_password("pies-demo-123")
    assert users.get(username="ops").groups.filter(name="Operations").exists()
    assert users.get(username="admin").is_superuser
    assert TradeWindow.objects.filter(status="done").count() >= 5
    assert Disposal.objects.filter(term="short").exists()
    assert Disposal.objects.filter(term="long").exists()
    assert Dividend.objects.filter(paid_at__isnull=False).exists()
    assert Dividend.objects.filter(paid_at__isnull=True).exists()
    assert Intent.objects.pending().exists()
    assert users.get(username="alice").accounts.count() == 2
    assert counts["RecurringDeposit"] == 3
    assert RecurringDeposit.objects.filter(paused=True).count() == 1
    assert not RecurringDeposit.objects.filter(paused=False, next_date=None).exists()
