"""``bench/web.sh`` times the pages themselves: every page answers 200 to the bench's session
and token, in the DEBUG-off server it starts.

Until stop 25 the setup signed its session with one secret and the server read it with another,
so the HTML pages answered a redirect to the login page, and that redirect was timed as the
page (wrk counted no error: it only counts statuses from 400). The script now stops on a page
that does not answer 200, and counts every answer that is not a 2xx."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from django.conf import settings

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
    completed = subprocess.run(
        ["sh", "bench/web.sh"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": settings.DATABASE_URL,
            "REDIS_URL": settings.REDIS_URL,
            "BENCH_DB": f"test_webbench_{os.getpid()}",
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
    for name, page in report["pages"].items():
        assert page["non_2xx"] == 0, (name, page)
        assert page["rps"] > 0, (name, page)
