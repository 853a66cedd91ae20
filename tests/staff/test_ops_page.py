from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from trading.models import Intent, TradeWindow
from trading.ops import LAST_TICK_KEY, window_summary

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("ops:index"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_investors_are_refused(client, alice):
    client.force_login(alice)
    assert client.get(reverse("ops:index")).status_code == 403
    assert client.post(reverse("ops:run_window")).status_code == 403
    assert not TradeWindow.objects.exists()


def test_the_page_shows_the_next_window_pending_intents_books_and_queue(
    ops_client, alice_account, bob_account
):
    Intent.objects.create(account=alice_account, kind="deposit", amount=Decimal("100.00"))
    Intent.objects.create(account=bob_account, kind="deposit", amount=Decimal("50.00"))
    bob_account.window_preference = "afternoon"
    bob_account.save()
    cache.set(LAST_TICK_KEY, timezone.now() - timedelta(seconds=30))

    response = ops_client.get(reverse("ops:index"))

    assert response.status_code == 200
    context = response.context
    assert context["next_slot"].starts_at > timezone.now()
    assert context["pending"] == [
        {
            "kind": "Deposit",
            "morning": 1,
            "afternoon": 1,
            "total": 2,
            "amount": Decimal("150.00"),
        }
    ]
    assert context["books"]["ok"] is True
    assert context["worker_alive"] in (False, None)  # no worker runs in the tests
    assert 25 <= context["tick_age"] < 120
    page = response.content.decode()
    assert "Next window" in page
    # The start in New York time (09:30 or 15:00), whatever the server's time zone.
    starts = f"{context['next_slot'].starts_at:%H:%M}"
    assert starts in ("09:30", "15:00")
    assert f"<dt>Starts (New York)</dt><dd>{starts}</dd>" in page
    assert "150.00" in page
    assert "Balanced" in page


def test_the_books_verdict_is_cached_until_someone_asks_again(ops_client, alice_account):
    from trading.models import LedgerEntry

    assert ops_client.get(reverse("ops:index")).context["books"]["ok"]
    # Cash out of step with the ledger: a violation verify_books must find.
    LedgerEntry.objects.create(
        account=alice_account, amount=Decimal("5.00"), kind="deposit", reference="bad"
    )
    assert ops_client.get(reverse("ops:index")).context["books"]["ok"]
    response = ops_client.post(reverse("ops:check_books"), follow=True)
    assert response.context["books"]["ok"] is False
    assert "violation" in response.content.decode()


def test_a_window_report_is_summarised_whatever_its_shape():
    window = TradeWindow(
        report={"counts": {"accounts": 3, "orders": 7}, "blocks": [1, 2], "skipped": ["XYZ"]},
        timings={"freeze": 0.5, "plan": {"seconds": 1.25}},
    )
    summary = window_summary(window)
    assert (summary.accounts, summary.orders, summary.blocks) == (3, 7, 2)
    assert summary.phases == [("freeze", 0.5), ("plan", 1.25)]
    assert summary.skipped == ["XYZ"]
    assert window_summary(TradeWindow(report="garbage", timings=None)).accounts == "—"


def test_the_page_loads_with_redis_down(ops_client, settings):
    # Nothing listens on port 1: every cache call fails as it does with Redis stopped.
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    }
    response = ops_client.get(reverse("ops:index"))
    assert response.status_code == 200
    assert response.context["books"]["ok"] is True  # computed, not read from the cache
    assert response.context["last_tick"] is None


def test_a_failed_window_shows_its_chunks_done_and_by_how_many_processes(ops_client):
    from tests.faults.books import mixed_accounts
    from trading.window import WindowFault, open_adhoc_window, run_window

    mixed_accounts("chunky", 3)
    window = open_adhoc_window()
    with pytest.raises(WindowFault):
        run_window(window.pk, chunk_size=1, fail_after_chunk=4)  # 3 plan chunks, 1 post

    page = ops_client.get(reverse("ops:index")).content.decode()

    row = page[page.index(f'id="window-{window.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "plan 3 of 3 chunks (1 process)" in row
    assert "post 1 of 3 chunks (1 process)" in row
    assert row.index("plan 3 of 3") < row.index("post 1 of 3")  # in the order they run
