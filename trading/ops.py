"""What the staff operations page (/ops/, ``trading.views.ops``) and the admin show and do.

The reads: the next window and what waits for it, what the last windows did, the books and
the queue. "Run now" opens an ad-hoc window that a worker runs (``trading.tasks.send_adhoc_window``),
so no web request waits for a window of any size; retrying a failed one calls the engine in
the request (it resumes from its checkpoints). And the Operations group's permissions.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from trading.models import Intent, IntentKind, TradeWindow, WindowChunk, WindowStatus
from trading.services.windows import LAST_TICK_KEY

log = logging.getLogger(__name__)

# verify_books scans the whole ledger: the page caches its verdict instead of paying for it
# on every reload; "Check the books now" recomputes.
BOOKS_KEY = "ops:books"
BOOKS_TTL = 60
LAST_WINDOWS = 10
PING_TIMEOUT = 0.5


# --- Window reports, read defensively ---------------------------------------------------------


@dataclass(frozen=True)
class WindowSummary:
    """A window's report boiled down for people: the engine owns the report's exact shape,
    so this reads what is there and never fails on what is not."""

    accounts: int | str = "—"
    orders: int | str = "—"
    blocks: int | str = "—"
    phases: list[tuple[str, float]] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    total_seconds: float | None = None
    chunks: list[str] = field(default_factory=list)


def chunk_progress(window_ids: list[int]) -> dict[int, list[str]]:
    """Per window, its plan and post chunks done so far and by how many processes, e.g.
    "plan 3 of 10 chunks (2 processes)": what to watch while a window runs. One query."""
    rows = (
        WindowChunk.objects.filter(window_id__in=window_ids)
        .values("window_id", "phase")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(done_at__isnull=False)),
            processes=Count("worker", filter=Q(done_at__isnull=False), distinct=True),
        )
        .order_by("window_id", "phase")  # plan before post
    )
    progress: dict[int, list[str]] = {}
    for row in rows:
        processes = row["processes"]
        progress.setdefault(row["window_id"], []).append(
            f"{row['phase']} {row['done']} of {row['total']} chunks"
            + (f" ({processes} process{'es' if processes != 1 else ''})" if processes else "")
        )
    return progress


def _count(value: Any) -> int | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list | dict):
        return len(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _first_count(report: dict[str, Any], *keys: str) -> int | str:
    for key in keys:
        if key in report:
            value = _count(report[key])
            if value is not None:
                return value
    counts = report.get("counts")
    if isinstance(counts, dict):
        return _first_count(counts, *keys)
    return "—"


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(value, dict):
        for key in ("seconds", "duration_s", "duration", "wall_s", "s"):
            if key in value:
                return _seconds(value[key])
    return None


def _skipped(report: dict[str, Any]) -> list[str]:
    items: list[str] = []
    for key in ("skipped", "skipped_securities", "waiting", "no_price"):
        value = report.get(key)
        if isinstance(value, dict):
            for inner_key, inner in value.items():
                if isinstance(inner, list):
                    items.extend(f"{inner_key}: {_describe(item)}" for item in inner)
                elif inner:
                    items.append(f"{inner_key}: {_describe(inner)}")
        elif isinstance(value, list):
            items.extend(_describe(item) for item in value)
    return items


def _describe(item: Any) -> str:
    if isinstance(item, dict):
        return ", ".join(f"{key} {value}" for key, value in item.items())
    return str(item)


PHASE_ORDER = ("freeze", "plan", "net", "execute", "allocate", "post", "close")


def _phase_rank(name: str) -> tuple[int, str]:
    # JSONB stores keys sorted by length and name: show the phases in the order they ran.
    return (PHASE_ORDER.index(name) if name in PHASE_ORDER else len(PHASE_ORDER), name)


def window_summary(window: TradeWindow, chunks: list[str] | None = None) -> WindowSummary:
    report = window.report if isinstance(window.report, dict) else {}
    timings = window.timings if isinstance(window.timings, dict) else {}
    if not timings and isinstance(report.get("timings"), dict):
        timings = report["timings"]
    if not timings and isinstance(report.get("phases"), dict):
        timings = report["phases"]
    phases = [
        (str(name), seconds)
        for name, value in sorted(timings.items(), key=lambda item: _phase_rank(item[0]))
        if (seconds := _seconds(value)) is not None
    ]
    figures = [
        (str(key).replace("_", " "), str(value))
        for key, value in report.items()
        if isinstance(value, int | float | str | bool) and key not in ("timings", "phases")
    ]
    total = None
    if window.started_at and window.finished_at:
        total = (window.finished_at - window.started_at).total_seconds()
    elif phases:
        total = sum(seconds for _, seconds in phases)
    return WindowSummary(
        accounts=_first_count(report, "accounts", "account_count", "accounts_planned"),
        orders=_first_count(report, "orders", "order_count", "orders_placed"),
        blocks=_first_count(report, "blocks", "block_count", "block_orders"),
        phases=phases,
        figures=figures,
        skipped=_skipped(report),
        total_seconds=total,
        chunks=chunks or [],
    )


# --- Window controls --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    message: str
    level: int
    window_id: int | None = None


def _describe_run(window_id: int, verb: str) -> Outcome:
    window = TradeWindow.objects.get(pk=window_id)
    if window.status == WindowStatus.DONE:
        summary = window_summary(window)
        return Outcome(
            f"Window {window.pk} {verb}: {summary.accounts} account(s), "
            f"{summary.orders} order(s), {summary.blocks} block(s).",
            messages.SUCCESS,
            window.pk,
        )
    return Outcome(
        f"Window {window.pk} ended {window.status}: {window.error or 'no error recorded'}",
        messages.ERROR,
        window.pk,
    )


def queued(window_id: int) -> Outcome:
    """What staff are told when "run now" has sent an ad-hoc window to a worker."""
    return Outcome(
        f"Window {window_id} is open and a worker runs it now: its progress and report show "
        "on the operations page and in the admin.",
        messages.SUCCESS,
        window_id,
    )


def retry_window(window_id: int) -> Outcome:
    """Run a failed window again: the engine resumes from its checkpoints, applying nothing
    twice, and its intents (still pending) are taken again."""
    from trading.window import run_window

    try:
        run_window(window_id)
    except Exception as exc:
        log.exception("retry of window %s failed", window_id)
        return Outcome(f"Window {window_id} failed again: {exc}", messages.ERROR, window_id)
    return _describe_run(window_id, "retried")


# --- Health ----------------------------------------------------------------------------------


def _cached(key: str) -> Any:
    """The cache read, or None when Redis is down: this page is where staff see that."""
    try:
        return cache.get(key)
    except Exception:
        log.warning("cache unreachable from the operations page", exc_info=True)
        return None


def books_status(*, refresh: bool = False) -> dict[str, Any]:
    status = None if refresh else _cached(BOOKS_KEY)
    if status is None:
        try:
            from trading.books import verify_books

            violations = verify_books()
        except Exception as exc:  # the page must still load and say so
            log.exception("verify_books failed on the operations page")
            violations = [f"verify_books could not run: {exc}"]
        status = {"ok": not violations, "violations": violations, "checked_at": timezone.now()}
        with suppress(Exception):  # without Redis, checked again on the next load
            cache.set(BOOKS_KEY, status, BOOKS_TTL)
    return status


def worker_alive() -> bool | None:
    """True if a Celery worker answers a ping, False if none does, None if the broker
    cannot be reached. Bounded: the page must load even when the queue is down."""
    from pieproject.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=PING_TIMEOUT)
        return bool(app.control.ping(timeout=PING_TIMEOUT))
    except Exception:
        log.warning("celery broker unreachable from the operations page", exc_info=True)
        return None


def last_tick() -> datetime | None:
    value = _cached(LAST_TICK_KEY)
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return parse_datetime(value)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return None


def pending_by_kind() -> list[dict[str, Any]]:
    """Pending intents by kind and by the accounts' window preference: a morning window
    takes the morning accounts' intents (and those of large accounts, which trade in both);
    the afternoon accounts' wait for theirs."""
    rows = (
        Intent.objects.pending()
        .values("kind", "account__window_preference")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by("kind", "account__window_preference")
    )
    labels = dict(IntentKind.choices)
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = table.setdefault(
            row["kind"],
            {"kind": labels.get(row["kind"], row["kind"]), "morning": 0, "afternoon": 0},
        )
        entry[row["account__window_preference"]] = row["count"]
        entry["amount"] = (entry.get("amount") or 0) + (row["amount"] or 0)
    for entry in table.values():
        entry["total"] = entry["morning"] + entry["afternoon"]
    return list(table.values())


# --- The Operations group --------------------------------------------------------------------

OPERATIONS_GROUP = "Operations"
# What the people who run an installation may do in the admin: see everything; steer
# securities, prices, dividends, account settings, intents (cancel) and windows (run, retry,
# abandon a failed one).
# Never add, change or delete history (orders, lots, ledger): those admins refuse it anyway.
OPERATIONS_PERMISSIONS: dict[str, list[str]] = {
    "trading": [
        "view_security",
        "add_security",
        "change_security",
        "view_price",
        "add_price",
        "change_price",
        "view_dividend",
        "add_dividend",
        "change_dividend",
        "delete_dividend",
        "view_account",
        "change_account",
        "view_position",
        "view_intent",
        "change_intent",
        "view_tradewindow",
        "change_tradewindow",
        "run_window",
        "abandon_window",
        "view_order",
        "view_blockorder",
        "view_fill",
        "view_lot",
        "view_disposal",
        "view_ledgerentry",
        "view_windowaccount",
        "view_windowchunk",
        "view_recurringdeposit",
        "view_confirmation",
    ],
    "pies": ["view_pie", "view_slice"],
    "auth": ["view_user"],
}


def ensure_operations_group() -> Any:
    """Create the group or bring its permissions up to date (idempotent)."""
    from django.contrib.auth.models import Group, Permission
    from django.db.models import Q

    group, _ = Group.objects.get_or_create(name=OPERATIONS_GROUP)
    wanted = Q(pk__in=[])
    for app_label, codenames in OPERATIONS_PERMISSIONS.items():
        wanted |= Q(content_type__app_label=app_label, codename__in=codenames)
    group.permissions.set(Permission.objects.filter(wanted))
    return group
