"""``manage.py import_prices FILE.csv``: validate the whole file, then upsert its prices."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.prices import import_prices, non_trading_day_warnings, parse_price_csv

BAR_WIDTH = 40
# Below this many rows the import is instant and a bar is just noise.
BAR_THRESHOLD = 10_000


def text_bar(stream: TextIO) -> Any:
    def show(done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        percent = 100 * done // total if total else 100
        stream.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:3d}% {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


class Command(BaseCommand):
    help = "Import prices from a CSV file with the header symbol,at,price (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file (use - for standard input)")
        parser.add_argument(
            "--no-progress", action="store_true", help="never draw the progress bar"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["file"]
        if name == "-":
            rows, errors = parse_price_csv(sys.stdin)
        else:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file")
            with path.open("rb") as handle:
                rows, errors = parse_price_csv(handle)
        if errors:
            for message in errors:
                self.stderr.write(f"{name}: {message}")
            raise CommandError(f"{name}: {len(errors)} error(s); nothing was imported.")
        progress = None
        if not options["no_progress"] and len(rows) >= BAR_THRESHOLD:
            progress = text_bar(sys.stderr)
        count = import_prices(rows, progress=progress)
        for warning in non_trading_day_warnings(rows):
            self.stderr.write(f"{name}: warning: {warning}")
        self.stdout.write(f"Imported {count} price(s) from {name}.")
