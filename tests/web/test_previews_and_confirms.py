"""Previews count the intents pending now as the window will, and say so; what may be
withdrawn never counts pending deposits; withdrawing everything and an import that sells ask
to confirm with the tax preview (issue 14)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

from pies.models import Pie, Slice
from trading.models import Intent, IntentKind


def html(response) -> str:
    return response.content.decode()


def test_a_withdrawal_preview_uses_a_pending_deposit_first_and_says_so(alice_client, core_pie):
    url = f"/account/{core_pie.pk}/withdraw/"
    before = alice_client.get(url, {"amount": "300"}).context["preview"]
    assert before.orders  # no cash: 300.00 is sold
    Intent.objects.create(account=core_pie, kind=IntentKind.DEPOSIT, amount="500.00")

    response = alice_client.get(url, {"amount": "300"})

    preview = response.context["preview"]
    assert preview.orders == []  # the window credits the deposit first, then pays from cash
    assert "the pending deposits of $500.00 are credited first" in html(response)
    # What may be withdrawn is the value, without the deposit that can still be cancelled.
    assert response.context["available"] == Decimal("9530.00")  # the holdings, no cash
    assert "You can withdraw at most 9,530.00." in html(alice_client.get(url, {"amount": "9600"}))


def test_a_withdrawal_preview_pays_the_pending_withdrawals_first(alice_client, core_pie):
    url = f"/account/{core_pie.pk}/withdraw/"
    alone = sum(
        order.amount for order in alice_client.get(url, {"amount": "300"}).context["preview"].orders
    )
    Intent.objects.create(account=core_pie, kind=IntentKind.WITHDRAWAL, amount="200.00")
    response = alice_client.get(url, {"amount": "300"})
    together = sum(order.amount for order in response.context["preview"].orders)
    assert (alone, together) == (300, 500)
    assert "the pending withdrawals of $200.00 are paid first" in html(response)


def test_the_rebalance_preview_says_it_counts_a_pending_deposit(alice_client, core_pie):
    Intent.objects.create(account=core_pie, kind=IntentKind.DEPOSIT, amount="1000.00")
    response = alice_client.get(f"/account/{core_pie.pk}/rebalance/")
    assert response.context["preview"].pending_deposits == 1000
    assert "the pending deposits of $1,000.00 are credited first" in html(response)


def test_an_import_that_sells_held_slices_asks_to_confirm_with_the_tax(alice_client, core_pie):
    version = Pie.objects.get(account=core_pie, is_root=True).version
    data = {"format": "pies/1", "name": "Only bonds", "slices": [
        {"target_percent": "100", "pie": {"name": "Bonds", "slices": [
            {"target_percent": "70", "symbol": "BND"}, {"target_percent": "30", "symbol": "TIP"}
        ]}}
    ]}  # fmt: skip
    url = f"/account/{core_pie.pk}/pie/import/"

    asked = alice_client.post(url, {"data": json.dumps(data), "version": version})

    assert asked.status_code == 200
    page = html(asked)
    assert "This import sells what you hold in 1 slice" in page and "Confirm import" in page
    # 28 VTI bought for 6,000.00 on 2025-01-02, worth 7,000.00: long-term by now.
    assert [sale.path for sale in asked.context["sales"]] == ["VTI"]
    assert "+$1,000.00" in page
    assert Slice.objects.get(security__symbol="VTI").status == "active"
    assert Pie.objects.get(account=core_pie, is_root=True).version == version

    done = alice_client.post(
        url, {"data": asked.context["sales_json"], "version": version, "confirmed": "1"}
    )
    assert done.status_code == 302
    assert Slice.objects.get(security__symbol="VTI").status == "removing"


def test_withdraw_everything_is_not_queued_without_the_confirm_step(alice_client, core_pie):
    response = alice_client.post(
        f"/account/{core_pie.pk}/withdraw/",
        {"withdraw_all": "on", "idempotency_key": uuid.uuid4().hex},
        HTTP_HX_REQUEST="true",
    )
    assert "Confirm: withdraw everything" in html(response)
    assert "Planned orders at current prices" in html(response)
    assert not Intent.objects.exists()
