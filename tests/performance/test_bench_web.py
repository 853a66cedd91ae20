"""``bench/web.sh`` times the pages themselves: every page answers 200 to the bench's session
and token, in the DEBUG-off server it starts.

Until stop 25 the setup signed its session with one secret and the server read it with another,
so the HTML pages answered a redirect to the login page, and that redirect was timed as the
page (wrk counted no error: it only counts statuses from 400). The script now stops on a page
that does not answer 200, and counts every answer that is not a 2xx. Its deposit POSTs go to
another investor's account than the pages it times (in one bench they queued thousands of
deposits on the account whose page the next run timed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import psycopg
import pytest
from django.conf import settings

from tests.bench_command import database_url_named

pytestmark = [pytest.mark.slow]

PAGES = {
    "healthz",
    "dashboard",
    "account",
    "activity",
    "deposit_preview_htmx",
    "security_search_htmx",
    "rebalance_preview",
    "deposit_post",
}


def test_every_page_of_the_web_bench_answers_200_under_load():
    if shutil.which("wrk") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("The web bench needs wrk under CI (apt-get install -y wrk)", pytrace=False)
        pytest.skip("wrk is not installed (apt-get install -y wrk): the web bench cannot run")
    name = f"test_webbench_{os.getpid()}"
    try:
        completed = subprocess.run(
            ["sh", "bench/web.sh"],
            cwd=settings.BASE_DIR,
            env={
                **os.environ,
                "DATABASE_URL": settings.DATABASE_URL,
                "REDIS_URL": settings.REDIS_URL,
                "BENCH_DB": name,
                "BENCH_KEEP_DB": "1",
                "BENCH_SECONDS": "1",
                "BENCH_RUNS": "1",
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        assert set(report["pages"]) == PAGES
        for page_name, page in report["pages"].items():
            assert page["non_2xx"] == 0, (page_name, page)
            assert page["rps"] > 0, (page_name, page)
        with psycopg.connect(database_url_named(name)) as scratch:
            pending = dict(
                scratch.execute(
                    "SELECT u.username, COUNT(*) FROM trading_intent t"
                    " JOIN trading_account a ON a.id = t.account_id"
                    " JOIN auth_user u ON u.id = a.owner_id"
                    " WHERE t.kind = 'deposit' AND t.status = 'pending' GROUP BY u.username"
                ).fetchall()
            )
        assert pending.get("alice", 0) <= 1, pending  # the demo's own, none of the bench's
        assert pending["bob"] > 10, pending
    finally:
        with psycopg.connect(database_url_named("postgres"), autocommit=True) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}"')
