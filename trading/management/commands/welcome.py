"""``manage.py welcome``: what to open and how to log in, printed by ``make run``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from trading.demo import ADMIN_LOGIN, DEMO_LOGINS, STAFF_LOGIN

URL = "http://127.0.0.1:8000/"


class Command(BaseCommand):
    help = "Print the local URL, the demo logins and how to run a trade window now."

    def handle(self, *args: Any, **options: Any) -> None:
        lines = [
            "",
            f"Pies is running at {URL}",
            "",
            "Demo logins (from manage.py seed_demo):",
            *(f"  investor   {username:<6} / {password}" for username, password in DEMO_LOGINS),
            f"  operations {STAFF_LOGIN[0]:<6} / {STAFF_LOGIN[1]}   ({URL}ops/ and {URL}admin/)",
            f"  superuser  {ADMIN_LOGIN[0]:<6} / {ADMIN_LOGIN[1]}   ({URL}admin/)",
            "",
            "Orders wait for the next trade window (09:30 and 15:00 New York time).",
            "To run a trade window now:",
            "  .venv/bin/python manage.py run_trade_window",
            "",
        ]
        self.stdout.write("\n".join(lines))
