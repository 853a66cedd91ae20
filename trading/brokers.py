"""Brokers: who fills a window's net orders. The engine only talks to the ``Broker`` interface.

Per security the window crosses its accounts' buys and sells at the window price w and sends
only the net (allocation.md, Execution):
- a **net sell** in shares, as a limit order: sell this quantity at the limit price or better;
- a **net buy** in dollars: spend at most this amount, report the shares bought and the cash
  charged.
The window sends every net sell first (``Broker.sell``), records them, then the net buys
(``Broker.buy``). Each order is filled in full or refused: a broker that cannot fill one raises
``BrokerRefused`` carrying what it filled before it (each of those in full), so the window
records those fills and never sends them again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from django.conf import settings

from trading.money import (
    PRICE_TICK,
    ZERO,
    ceil_cents,
    ceil_price,
    floor_cents,
    floor_price,
    floor_shares,
)

MAX_SLIPPAGE_BP = 5_000  # the simulator's bound, either way (the setting is validated too)


@dataclass(frozen=True)
class NetSell:
    """Sell ``quantity`` shares at ``limit_price`` or better, in full or not at all."""

    security_id: int
    symbol: str
    quantity: Decimal  # shares, 6 decimals, > 0
    limit_price: Decimal
    window_price: Decimal
    reference: str  # the engine's id of this order (a real broker dedupes on it)


@dataclass(frozen=True)
class NetBuy:
    """Buy as many shares as ``amount`` pays for; charge at most ``amount``."""

    security_id: int
    symbol: str
    amount: Decimal  # dollars, > 0
    window_price: Decimal
    reference: str


@dataclass(frozen=True)
class Execution:
    """What the broker did with one order: shares sold or bought, and the cash it paid (sell)
    or charged (buy), in cents. ``price`` is its execution price, for display."""

    security_id: int
    quantity: Decimal
    cash: Decimal
    price: Decimal
    reference: str = ""


class BrokerRefused(RuntimeError):
    """The broker did not fill an order in full; ``filled`` is what it filled before it."""

    def __init__(self, message: str, filled: Sequence[Execution] = ()) -> None:
        super().__init__(message)
        self.filled = list(filled)


class Broker(ABC):
    """Fills a window's net orders. A real broker plugs in here."""

    @abstractmethod
    def sell(self, orders: Sequence[NetSell]) -> list[Execution]:
        """Fill every net sell in full at its limit or better, in order, or raise
        ``BrokerRefused`` with the executions of the orders filled before the refused one."""

    @abstractmethod
    def buy(self, orders: Sequence[NetBuy]) -> list[Execution]:
        """Fill every net buy (shares for at most its amount), in order, or raise
        ``BrokerRefused`` with the executions of the orders filled before the refused one."""


class SimulatedBroker(Broker):
    """Fills at the window price moved by ``slippage_bp`` basis points (signed: positive is
    against the trader, buys higher and sells lower; negative in the trader's favour).

    The price is rounded to the 4-decimal tick against the trader (buys up, sells down), so a
    slippage of exactly the window's accepted b still meets the limit floor4(w * (1 - b)).
    A net sell whose price would be below its limit is refused, like a real limit order. It
    pays floor_cents(shares x price) for a sell; for a buy of N dollars it buys
    floor6(N / price) shares and charges them rounded up to cents (never more than N). No fees.
    """

    def __init__(self, slippage_bp: int | None = None) -> None:
        self.slippage_bp = settings.PIES_BROKER_SLIPPAGE_BP if slippage_bp is None else slippage_bp
        if not -MAX_SLIPPAGE_BP <= self.slippage_bp <= MAX_SLIPPAGE_BP:
            raise ValueError(
                f"Slippage is a number of basis points from -{MAX_SLIPPAGE_BP} to "
                f"{MAX_SLIPPAGE_BP}."
            )

    def sell_price(self, window_price: Decimal) -> Decimal:
        with localcontext() as context:
            context.prec = 60
            return floor_price(window_price * (10_000 - self.slippage_bp) / 10_000)

    def buy_price(self, window_price: Decimal) -> Decimal:
        with localcontext() as context:
            context.prec = 60
            return max(ceil_price(window_price * (10_000 + self.slippage_bp) / 10_000), PRICE_TICK)

    def sell(self, orders: Sequence[NetSell]) -> list[Execution]:
        filled: list[Execution] = []
        for order in orders:
            price = self.sell_price(order.window_price)
            if price < order.limit_price or price <= 0:
                raise BrokerRefused(
                    f"The limit order to sell {order.quantity} {order.symbol} at "
                    f"{order.limit_price} or better was not filled: the simulated market is at "
                    f"{price}.",
                    filled,
                )
            with localcontext() as context:
                context.prec = 60
                cash = floor_cents(order.quantity * price)
            filled.append(
                Execution(order.security_id, order.quantity, cash, price, f"sim:{order.reference}")
            )
        return filled

    def buy(self, orders: Sequence[NetBuy]) -> list[Execution]:
        filled: list[Execution] = []
        for order in orders:
            price = self.buy_price(order.window_price)
            with localcontext() as context:
                context.prec = 60
                quantity = floor_shares(order.amount / price)
                cash = ceil_cents(quantity * price) if quantity > 0 else ZERO
            filled.append(
                Execution(order.security_id, quantity, cash, price, f"sim:{order.reference}")
            )
        return filled
