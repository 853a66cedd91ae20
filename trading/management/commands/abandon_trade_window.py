"""``manage.py abandon_trade_window ID --reason TEXT``: reverse a failed window with no fill.

Its deposit credits are reversed by compensating entries, its orders cancelled, its intents
pending again for the next window (product.md, Trade windows). Refused (exit 1, with why)
unless the window is failed and has recorded no fill: then it can only be retried.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.window import CannotAbandon, abandon_window


class Command(BaseCommand):
    help = "Abandon a failed trade window that has no fill (its intents are pending again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("window_id", type=int)
        parser.add_argument("--reason", required=True, help="Why (kept on the window).")
        parser.add_argument("--by", default="", help="Username recorded as who abandoned it.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = None
        if options["by"]:
            user = get_user_model().objects.filter(username=options["by"]).first()
            if user is None:
                raise CommandError(f"No user {options['by']!r}.")
        try:
            outcome = abandon_window(
                window_id=options["window_id"], reason=options["reason"], user=user
            )
        except CannotAbandon as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(outcome.message)
