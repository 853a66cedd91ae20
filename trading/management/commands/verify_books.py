"""``manage.py verify_books``: check the books' invariants; exit 1 on any violation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from trading.books import verify_books


class Command(BaseCommand):
    help = "Check the books (product.md, The books): prints OK or each violation."

    def handle(self, *args: Any, **options: Any) -> None:
        violations = verify_books()
        if not violations:
            self.stdout.write("OK")
            return
        for violation in violations:
            self.stdout.write(violation)
        raise CommandError(f"{len(violations)} violation(s) of the books.", returncode=1)
