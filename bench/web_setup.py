"""Setup for ``bench/web.sh``: in the (scratch) database of DATABASE_URL, load the demo and
print what the load generator needs, one ``KEY=value`` a line: alice's session cookie, an API
token and her account id for the pages, and bob's token and account for the deposit POSTs (each
queues a deposit: on alice's account, thousands of pending deposits would slow her pages in the
runs after the first).

    DEBUG=1 python -m bench.web_setup
"""

from __future__ import annotations

import os

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pieproject.settings")
    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from trading.models import Account

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    alice = User.objects.get(username="alice")
    session = SessionStore()
    session[SESSION_KEY] = str(alice.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = alice.get_session_auth_hash()
    session.create()
    token, _ = Token.objects.get_or_create(user=alice)
    account = Account.objects.filter(owner=alice).order_by("pk").first()
    assert account is not None, "the demo gives alice an account"
    bob = User.objects.get(username="bob")
    writer_token, _ = Token.objects.get_or_create(user=bob)
    writer_account = Account.objects.filter(owner=bob).order_by("pk").first()
    assert writer_account is not None, "the demo gives bob an account"
    print(f"SESSION={session.session_key}")
    print(f"TOKEN={token.key}")
    print(f"ACCOUNT={account.pk}")
    print(f"WRITER_TOKEN={writer_token.key}")
    print(f"WRITER_ACCOUNT={writer_account.pk}")


if __name__ == "__main__":
    main()
