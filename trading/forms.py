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

from trading.models import Account, Frequency
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
        fields = ("name", "auto_invest", "min_cash", "window_preference", "lot_method", "notify")
        labels = {
            "name": "Account name",
            "auto_invest": "Auto-invest cash above the minimum",
            "window_preference": "Trade window",
            "lot_method": "Lot method (which shares are sold first)",
            "notify": "Email me a trade confirmation after each window that trades",
        }


class RecurringDepositForm(forms.Form):
    """A recurring deposit's fields; the service checks the rules (day 1..28 for monthly
    schedules only, the end after the start, at most 5 per account)."""

    amount = AmountField(
        label="Amount", maximum=MAX_DEPOSIT, help_text="From $1.00 to $1,000,000.00."
    )
    frequency = forms.ChoiceField(label="How often", choices=Frequency.choices)
    day = forms.IntegerField(
        label="Day of the month",
        required=False,
        min_value=1,
        max_value=28,
        help_text="Monthly only: 1 to 28, so every month has it.",
    )
    start_date = forms.DateField(
        label="Start date",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Weekly and every-two-weeks deposits fall on its weekday.",
    )
    end_date = forms.DateField(
        label="End date (optional)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_day(self) -> int | None:
        day = self.cleaned_data.get("day")
        # A day left in the field while switching to weekly is ignored rather than refused.
        return day if self.data.get("frequency") == Frequency.MONTHLY else None


class ActivityFilterForm(forms.Form):
    """The activity page's filters (a GET form: bad values are ignored, never a 500)."""

    KINDS = (
        ("", "Everything"),
        ("deposit", "Deposits"),
        ("withdrawal", "Withdrawals"),
        ("rebalance", "Rebalances"),
        ("removal", "Slice removals"),
        ("buy", "Buys"),
        ("sell", "Sells"),
        ("dividend", "Dividends"),
    )
    kind = forms.ChoiceField(choices=KINDS, required=False, label="Kind")
    security = forms.ChoiceField(required=False, label="Security")
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, symbols: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["security"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Any security"), *((symbol, symbol) for symbol in symbols)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", "Choose a date on or after the start.")
        return cleaned
