"""``manage.py backfill_snapshots``: rebuild the daily performance snapshots from the ledger
and the stored prices (one statement per run of 63 trading days, for every investor account)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Min
from django.utils import timezone

from trading.calendar import MARKET_TZ, market_date
from trading.models import Account
from trading.services.snapshots import backfill_snapshots

BAR_WIDTH = 40


def progress_bar(write: Callable[[str], None]) -> Callable[[int, int, date], None]:
    def show(done: int, total: int, day: date) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        percent = 100 * done // total if total else 100
        bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}]"
        write(f"\r{bar} {percent:3d}% {done}/{total} {day}" + ("\n" if done >= total else ""))

    return show


def parse_day(raw: str, option: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"{option}: expected a date YYYY-MM-DD, got {raw!r}") from None


class Command(BaseCommand):
    help = (
        "Rebuild the daily performance snapshots of every investor account from the ledger "
        "and the stored prices, for each trading day in the range that has closed. Safe to "
        "run again: a day whose inputs did not change is left as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from", dest="first", help="first day (default: the oldest account's opening)"
        )
        parser.add_argument("--to", dest="last", help="last day (default: today)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        last = parse_day(options["last"], "--to") if options["last"] else market_date(now)
        if options["first"]:
            first = parse_day(options["first"], "--from")
        else:
            opened = Account.objects.investor().aggregate(first=Min("created_at"))["first"]
            if opened is None:
                self.stdout.write("No investor accounts: nothing to backfill.")
                return
            first = opened.astimezone(MARKET_TZ).date()
        if first > last:
            raise CommandError(f"--from {first} is after --to {last}.")
        progress = None
        if not options["no_progress"]:

            def write(text: str) -> None:
                self.stderr.write(text, ending="")
                self.stderr.flush()

            progress = progress_bar(write)
        written = backfill_snapshots(first=first, last=last, now=now, progress=progress)
        self.stdout.write(f"Snapshots from {first} to {last}: {written} row(s) written or changed.")
