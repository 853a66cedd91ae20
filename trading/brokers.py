"""Brokers: who fills a window's block orders. The engine only talks to the ``Broker`` interface.

A block order is the net, in shares, of every account's planned buys and sells of one security
in one window (the rest is crossed internally, at the window price). The broker fills it and
reports fills; the engine turns them into one fill price per security (the volume-weighted
average of the crossed shares at the window price and the broker's fills) and allocates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from trading.money import quantize_price


@dataclass(frozen=True)
class BlockRequest:
    """The net of one security's orders in a window: what goes to the broker."""

    security_id: int
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal  # shares, 6 decimals, > 0
    window_price: Decimal


@dataclass(frozen=True)
class BrokerFill:
    security_id: int
    side: str
    quantity: Decimal
    price: Decimal
    reference: str = ""


class Broker(ABC):
    """Fills block orders. A real broker plugs in here; it must fill each block in full
    (the engine refuses a partial fill rather than allocating shares nobody delivered)."""

    @abstractmethod
    def execute(self, blocks: Sequence[BlockRequest]) -> list[BrokerFill]:
        raise NotImplementedError


class SimulatedBroker(Broker):
    """Fills every block in full at the window price, moved against the trader by
    ``slippage_bp`` basis points (buys higher, sells lower), rounded half-up to the tick."""

    def __init__(self, slippage_bp: int | None = None) -> None:
        self.slippage_bp = settings.PIES_BROKER_SLIPPAGE_BP if slippage_bp is None else slippage_bp
        if self.slippage_bp < 0:
            raise ValueError("Slippage is a non-negative number of basis points.")

    def price_for(self, block: BlockRequest) -> Decimal:
        factor = Decimal(self.slippage_bp) / Decimal(10_000)
        if block.side == "buy":
            return quantize_price(block.window_price * (1 + factor))
        return max(quantize_price(block.window_price * (1 - factor)), Decimal("0.0001"))

    def execute(self, blocks: Sequence[BlockRequest]) -> list[BrokerFill]:
        return [
            BrokerFill(
                security_id=block.security_id,
                side=block.side,
                quantity=block.quantity,
                price=self.price_for(block),
                reference=f"sim:{block.symbol}",
            )
            for block in blocks
        ]
