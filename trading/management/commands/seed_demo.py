"""``manage.py seed_demo``: idempotent demo data (see trading/demo.py for what it makes)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trading.demo import ADMIN_LOGIN, DEFAULT_SEED, DEMO_LOGINS, STAFF_LOGIN, seed_demo


class Command(BaseCommand):
    help = (
        "Create demo securities, a year of prices, investors with executed windows, lots and "
        "dividends, and the ops and admin staff users. Safe to run again: it changes nothing "
        "that is already there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="random-walk seed for the prices"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_demo(seed=options["seed"])
        history = "created" if result.history_created else "already there, left alone"
        self.stdout.write(f"Demo prices: {result.prices} closes upserted. Investors: {history}.")
        logins = ", ".join(f"{name} / {password}" for name, password in DEMO_LOGINS)
        self.stdout.write(
            f"Logins: {logins}; staff {STAFF_LOGIN[0]} / {STAFF_LOGIN[1]}; "
            f"superuser {ADMIN_LOGIN[0]} / {ADMIN_LOGIN[1]}."
        )
