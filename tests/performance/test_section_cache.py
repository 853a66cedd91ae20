"""The performance section is cached under a digest of everything it is drawn from
(``trading.views.performance.performance_section``): a second view is the same HTML for one
query fewer; a snapshot written, rewritten or deleted, or new code, draws it anew, never stale;
without Redis it is drawn every time."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from tests.performance.helpers import FRI, MON, ny
from trading.models import Snapshot
from trading.services.snapshots import backfill_snapshots
from trading.views import performance as views

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(history, monkeypatch) -> Client:
    # Keys of this test only: the cache (Redis) outlives test databases, whose ids repeat.
    version = uuid.uuid4().hex
    monkeypatch.setattr(views, "_sources_version", lambda: version)
    backfill_snapshots(first=MON, last=FRI, now=ny(FRI, 17))
    client = Client()
    client.force_login(history.owner, backend="django.contrib.auth.backends.ModelBackend")
    return client


def section(client: Client, account, range_key: str = "ALL") -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            f"/account/{account.pk}/performance/?range={range_key}", HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card performance"'), html[:200]
    return html, len(queries)


def test_a_second_view_is_the_same_section_for_one_query_fewer(web, history):
    drawn, drawing = section(web, history)
    cached, reading = section(web, history)
    assert cached == drawn
    assert reading == drawing - 1
    # Another range is another key.
    assert section(web, history, "1M")[1] == drawing


def test_a_snapshot_rewritten_deleted_or_added_is_drawn_anew(web, history):
    before, _ = section(web, history)
    friday = '<th scope="row">2026-03-06</th><td>$510.00</td>'  # 5 shares at 102
    assert friday in before and "<dd>$510.00</dd>" in before
    Snapshot.objects.filter(account=history, day=FRI).update(value=F("value") + Decimal("1000"))
    rewritten, _ = section(web, history)
    assert "<dd>$1,510.00</dd>" in rewritten and friday not in rewritten
    Snapshot.objects.filter(account=history, day=FRI).delete()
    deleted, _ = section(web, history)
    assert "2026-03-06" not in deleted and "<dd>$500.00</dd>" in deleted
    backfill_snapshots(first=MON, last=FRI, now=ny(FRI, 17))
    assert section(web, history)[0] == before


def test_new_code_is_a_new_key(tmp_path, monkeypatch):
    source = tmp_path / "chart.py"
    source.write_text("one")
    monkeypatch.setattr(views, "_SECTION_SOURCES", [source])
    first = views._sources_version()
    assert views._sources_version() == first
    source.write_text("two, longer")
    assert views._sources_version() != first


def test_without_redis_the_section_is_drawn_every_time(web, history):
    drawn, _ = section(web, history)
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # nothing listens on the discard port
        }
    }
    with override_settings(CACHES=unreachable):
        assert section(web, history)[0] == drawn
        page = web.get(f"/account/{history.pk}/?range=ALL")
    assert page.status_code == 200 and "chart-value" in page.content.decode()


def test_a_range_is_keyed_by_the_snapshots_it_reads_only(web, history):
    """1M, months after this history: the range starts from Friday's close, its only row."""
    drawn, drawing = section(web, history, "1M")
    assert "<dd>$510.00</dd>" in drawn
    Snapshot.objects.filter(account=history, day=MON).update(value=Decimal("7.00"))
    assert section(web, history, "1M") == (drawn, drawing - 1)  # Monday is not read: a hit
    Snapshot.objects.filter(account=history, day=FRI).update(value=Decimal("600.00"))
    assert "<dd>$600.00</dd>" in section(web, history, "1M")[0]
