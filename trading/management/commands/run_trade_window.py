"""``manage.py run_trade_window``: open an ad-hoc window now, run it, print its report."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.services import pay_due_dividends
from trading.tasks import confirm_window
from trading.window import open_adhoc_window, run_window


class Command(BaseCommand):
    help = "Run an ad-hoc trade window now (every pending intent of every account)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument("--chunk-size", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        # Dividends due today first, as the daily job would have paid them: the window then
        # invests them (auto-invest) instead of leaving them for the next one.
        paid = pay_due_dividends()
        window = open_adhoc_window()
        try:
            report = run_window(window.pk, chunk_size=options["chunk_size"])
        except Exception as exc:
            raise CommandError(f"Window {window.pk} failed: {exc}") from exc
        confirm_window(window.pk)
        if paid:
            report["dividends_paid_first"] = {str(pk): str(amount) for pk, amount in paid.items()}
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, default=str))
            return
        self.stdout.write(describe(report))


def describe(report: dict[str, Any]) -> str:
    lines = [
        f"Window {report.get('window')} ({report.get('session')}, {report.get('trade_date')}): "
        f"{report.get('status')}",
        f"  accounts {report.get('accounts')}, intents {report.get('intents')}, "
        f"orders {report.get('orders')}, blocks {report.get('blocks')}, fills {report.get('fills')}",
        f"  house residue: {report.get('house', {}).get('shares')} shares, "
        f"{report.get('house', {}).get('cash')} cash",
    ]
    if report.get("failed_intents"):
        lines.append(f"  failed intents: {report['failed_intents']}")
    for item in report.get("skipped", {}).get("no_price", []):
        lines.append(
            f"  waiting for a price: {item['symbol']} ({item['orders']} order(s), "
            f"buy {item['buy']}, sell {item['sell']})"
        )
    if report.get("dividends_paid_first"):
        lines.append(f"  paid first: {len(report['dividends_paid_first'])} due dividend(s)")
    if report.get("late_seconds"):
        lines.append(f"  late by {report['late_seconds']} s")
    timings = report.get("timings", {})
    lines.append("  " + ", ".join(f"{phase} {seconds:.3f}s" for phase, seconds in timings.items()))
    return "\n".join(lines)
