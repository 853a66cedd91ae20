"""Forms of the investor pages: sign up, cash flows, rebalance confirmation, settings.

Forms check the shape of the input (a money amount is a plain positive number with at most two
decimals); the services decide everything that needs the database (the withdrawal limit, one
pending rebalance per pie) and the views put their ``IntentError`` next to the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm, UsernameField

from trading.models import Account
from trading.money import MAX_DEPOSIT, MAX_MIN_CASH, parse_amount, parse_whole


class SignupForm(UserCreationForm):
    email = forms.EmailField(label="Email", help_text="For password resets only.", max_length=254)

    class Meta:  # UserCreationForm.Meta's, with the email (its Meta is not in the type stubs)
        model = get_user_model()
        fields = ("username", "email")
        field_classes = {"username": UsernameField}

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email already exists.")
        return email


class AmountField(forms.CharField):
    """A money amount read by ``trading.money.parse_amount`` (exact, never a float), in its
    friendly form: "$1,000.50", "1,000" and "$1000" are 1000.50, 1000 and 1000; anything else
    the API refuses is refused here too."""

    def __init__(
        self, *, maximum: Decimal | None = None, allow_zero: bool = False, **kwargs: Any
    ) -> None:
        self.maximum = maximum
        self.allow_zero = allow_zero
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Decimal | None:
        text = super().clean(value)
        if text in (None, ""):
            return None
        try:
            return parse_amount(
                text, maximum=self.maximum, allow_zero=self.allow_zero, friendly=True
            )
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class NumberField(forms.CharField):
    """A decimal read by one of ``trading.money``'s readers (``parse_price``...): the admin's
    price and dividend forms, where Django's own DecimalField reads Arabic-Indic digits and "1_0"."""

    def __init__(self, *, reader: Callable[[str], Decimal], **kwargs: Any) -> None:
        self.reader = reader
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Decimal | None:
        text = super().clean(value)
        if text in (None, ""):
            return None
        try:
            return self.reader(text)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


class WholeNumberField(forms.IntegerField):
    """An integer from plain ASCII digits (``trading.money.parse_whole``): Django's own
    ``int()`` also reads "١٢" and "1_2"."""

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        try:
            return parse_whole(str(value))
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class IntentForm(forms.Form):
    """Every rendered intent form carries its own key, so a double click or a resubmit of the
    same rendered form creates one intent (the service dedupes on it)."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", new_idempotency_key())
        super().__init__(*args, **kwargs)


class DepositForm(IntentForm):
    amount = AmountField(
        label="Amount", maximum=MAX_DEPOSIT, help_text="From $0.01 to $1,000,000.00."
    )


class WithdrawalForm(IntentForm):
    amount = AmountField(label="Amount", required=False)
    withdraw_all = forms.BooleanField(
        label="Withdraw everything (sells every holding)", required=False
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if "amount" in self.errors:
            return data
        if data.get("withdraw_all") and data.get("amount") is not None:
            self.add_error("amount", "Leave the amount empty to withdraw everything.")
        elif not data.get("withdraw_all") and data.get("amount") is None:
            self.add_error("amount", "Enter an amount, or choose to withdraw everything.")
        return data


class RebalanceForm(IntentForm):
    pie = WholeNumberField(widget=forms.HiddenInput, required=False)


class AccountSettingsForm(forms.ModelForm):
    min_cash = AmountField(
        label="Minimum cash",
        allow_zero=True,
        maximum=MAX_MIN_CASH,
        help_text="Cash kept uninvested when auto-invest runs.",
    )

    class Meta:
        model = Account
        fields = ("name", "auto_invest", "min_cash", "window_preference", "lot_method")
        labels = {
            "name": "Account name",
            "auto_invest": "Auto-invest cash above the minimum",
            "window_preference": "Trade window",
            "lot_method": "Lot method (which shares are sold first)",
        }
