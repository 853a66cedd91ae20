"""``manage.py createstaff USERNAME``: a staff user in the Operations group (not a superuser)."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from trading.ops import ensure_operations_group

PASSWORD_ENV = "PIES_STAFF_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a staff user in the Operations group, or add an existing user to it. "
        f"The password is asked for, or read from ${PASSWORD_ENV} with --noinput."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help=f"do not prompt; a new user's password comes from ${PASSWORD_ENV}",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        username = options["username"].strip()
        if not username:
            raise CommandError("Give a username.")
        user = User.objects.filter(username=username).first()
        password = os.environ.get(PASSWORD_ENV) or None
        if user is None and password is None:
            if not options["interactive"]:
                raise CommandError(f"Set ${PASSWORD_ENV} to create a user without a prompt.")
            password = self.ask_password()
        if password is not None:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        with transaction.atomic():
            group = ensure_operations_group()
            created = user is None
            if user is None:
                user = User.objects.create_user(
                    username=username, email=options["email"], password=password
                )
            elif password is not None:
                user.set_password(password)
            user.is_staff = True
            user.is_active = True
            user.save()
            user.groups.add(group)
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} staff user {username!r} in the {group.name} group.")

    def ask_password(self) -> str:
        for _ in range(3):
            first = getpass.getpass("Password: ")
            if first and first == getpass.getpass("Password (again): "):
                return first
            self.stderr.write("The passwords differ or are empty; try again.")
        raise CommandError("No password given.")
