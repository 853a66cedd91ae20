"""API serializers for accounts, pie trees and holdings (api.md).

The pie tree comes from ``pies.tree.load_portfolio`` and is turned into the api.md shape by
``pie_tree_data``; a leaf slice carries ``symbol`` and ``quantity``, a sub-pie slice carries
``pie``. A PUT body is validated by ``pies.services.save_pie_tree`` itself, which keys its
errors by JSON path ("slices.1.pie.slices.0.symbol"); the input serializers below describe
that shape for the schema.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from pies.tree import PieView, PortfolioView, SliceView
from trading.models import USER_ACCOUNT_KINDS, LotMethod, WindowPreference
from trading.money import MAX_MIN_CASH
from trading.serializers import (
    AmountField,
    PercentField,
    money_out,
    object_id,
    percent_out,
    price_out,
    quantity_out,
)

ACCOUNT_KINDS = [(kind.value, kind.label) for kind in USER_ACCOUNT_KINDS]


# --- accounts --------------------------------------------------------------------------------


class AccountOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    kind = serializers.ChoiceField(choices=ACCOUNT_KINDS)
    cash = money_out()
    invested_value = money_out()
    total_value = money_out()
    available_to_withdraw = money_out(
        help_text="Cash plus the holdings' sellable values less the pending withdrawals: the "
        "one valuation a withdrawal is checked against, at the window too."
    )
    auto_invest = serializers.BooleanField()
    min_cash = money_out()
    window_preference = serializers.ChoiceField(choices=WindowPreference.choices)
    lot_method = serializers.ChoiceField(choices=LotMethod.choices)
    notify = serializers.BooleanField(
        help_text="Trade confirmations by email after each window that trades for the account."
    )


class AccountCreateInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ACCOUNT_KINDS)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class AccountSettingsInput(serializers.Serializer):
    """PATCH: settings only; money and kind are not settable here."""

    SETTINGS = ("name", "auto_invest", "min_cash", "window_preference", "lot_method", "notify")

    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    auto_invest = serializers.BooleanField(required=False)
    min_cash = AmountField(required=False, allow_zero=True, maximum=MAX_MIN_CASH)
    window_preference = serializers.ChoiceField(choices=WindowPreference.choices, required=False)
    lot_method = serializers.ChoiceField(choices=LotMethod.choices, required=False)
    notify = serializers.BooleanField(required=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            # Saying why beats silently ignoring `"cash": "1000000"`.
            unknown = sorted(str(key) for key in data if key not in self.SETTINGS)
            if unknown:
                raise serializers.ValidationError(
                    {key: ["This field cannot be changed here."] for key in unknown}
                )
        return super().to_internal_value(data)


# --- the pie tree ----------------------------------------------------------------------------


class SliceOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["active", "removing"])
    target_percent = percent_out()
    symbol = serializers.CharField(required=False, help_text="A security slice.")
    quantity = quantity_out(required=False, help_text="A security slice.")
    price = price_out(required=False, allow_null=True, help_text="A security slice.")
    value = money_out()
    actual_percent = percent_out(help_text="Of the parent pie's value.")
    drift_percent = percent_out(help_text="Actual minus target, in points.")


class SubPieOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slices = SliceOutput(many=True)


# A slice may hold a sub-pie that holds slices: the recursion is declared after both exist.
SliceOutput._declared_fields["pie"] = SubPieOutput(required=False, help_text="A sub-pie slice.")


class PieTreeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField(help_text="Send it back with a PUT (covers the tree).")
    slices = SliceOutput(many=True)


class SliceInput(serializers.Serializer):
    id = object_id(required=False, help_text="An existing slice (keeps its holdings).")
    target_percent = PercentField(help_text='e.g. "33.33"; 0 removes the slice.')
    symbol = serializers.CharField(required=False, max_length=12)


class SubPieInput(serializers.Serializer):
    id = object_id(required=False)
    name = serializers.CharField(max_length=100)
    slices = SliceInput(many=True)


SliceInput._declared_fields["pie"] = SubPieInput(required=False)


class PieTreeInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    version = serializers.IntegerField(help_text="The version you edited (409 when stale).")
    slices = SliceInput(many=True)


class OpenPieSlice(serializers.Serializer):
    target_percent = PercentField()
    symbol = serializers.CharField(required=False)


class OpenPieSubPie(serializers.Serializer):
    name = serializers.CharField()
    slices = OpenPieSlice(many=True)


OpenPieSlice._declared_fields["pie"] = OpenPieSubPie(required=False)


class OpenPieOutput(serializers.Serializer):
    format = serializers.ChoiceField(choices=["pies/1"])
    name = serializers.CharField()
    slices = OpenPieSlice(many=True)


class OpenPieImportInput(OpenPieOutput):
    version = serializers.IntegerField(help_text="The current version of the pie.")


def _slice_data(slice_: SliceView) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": slice_.id,
        "status": slice_.status,
        "target_percent": f"{slice_.target_percent:.2f}",
    }
    if slice_.child is not None:
        data["pie"] = {
            "id": slice_.child.id,
            "name": slice_.child.name,
            "slices": [_slice_data(s) for s in slice_.child.slices],
        }
    else:
        data["symbol"] = slice_.symbol
        data["quantity"] = f"{slice_.quantity:.6f}"
        data["price"] = None if slice_.price is None else f"{slice_.price:.4f}"
    data["value"] = f"{slice_.value:.2f}"
    data["actual_percent"] = f"{slice_.actual_percent:.2f}"
    data["drift_percent"] = f"{slice_.drift_percent:.2f}"
    return data


def pie_tree_data(portfolio: PortfolioView) -> dict[str, Any]:
    root: PieView = portfolio.root
    return {
        "id": root.id,
        "name": root.name,
        "version": portfolio.version,
        "slices": [_slice_data(s) for s in root.slices],
    }


# --- holdings --------------------------------------------------------------------------------


class HoldingOutput(serializers.Serializer):
    path = serializers.CharField()
    symbol = serializers.CharField()
    status = serializers.ChoiceField(choices=["active", "removing"])
    quantity = quantity_out()
    price = price_out(allow_null=True)
    value = money_out()
    cost_basis = money_out()
    unrealized_gain = money_out()
    target_percent = percent_out(
        source="portfolio_target_percent", help_text="Product of the targets along the path."
    )
    actual_percent = percent_out(
        source="portfolio_actual_percent", help_text="Of the invested value (cash excluded)."
    )
