"""The recurring deposits endpoints (api.md): shape, validation, owner only, no backlog."""

from __future__ import annotations

from datetime import date, datetime
from unittest import mock

import pytest

from trading.calendar import MARKET_TZ
from trading.models import Intent, RecurringDeposit
from trading.services import create_due_deposits

pytestmark = pytest.mark.django_db

KEYS = {"id", "amount", "frequency", "day", "start_date", "end_date", "paused", "next_date"}
MONDAY_NOON = datetime(2026, 11, 30, 12, tzinfo=MARKET_TZ)


@pytest.fixture(autouse=True)
def frozen_today():
    """The services read "today" (New York) from the clock: Monday 30 November 2026."""
    with mock.patch("trading.services.recurring.timezone.now", return_value=MONDAY_NOON):
        yield


def path(account, schedule=None) -> str:
    base = f"/api/v1/accounts/{account.pk}/recurring-deposits/"
    return base if schedule is None else f"{base}{schedule}/"


def create(client, account, **fields):
    data = {"amount": "50.00", "frequency": "weekly", "start_date": "2026-12-01", **fields}
    return client.post(path(account), data, format="json")


def test_a_schedule_is_created_and_listed_with_its_next_date(alice_api, alice_account):
    response = create(alice_api, alice_account, amount=25)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == KEYS
    assert body | {"id": 0} == {
        "id": 0,
        "amount": "25.00",
        "frequency": "weekly",
        "day": None,
        "start_date": "2026-12-01",
        "end_date": None,
        "paused": False,
        "next_date": "2026-12-01",
    }
    listed = alice_api.get(path(alice_account))
    assert listed.status_code == 200 and listed.json() == [body]
    assert alice_api.get(path(alice_account, body["id"])).json() == body


def test_a_monthly_schedule_takes_a_day_from_1_to_28(alice_api, alice_account):
    ok = create(alice_api, alice_account, frequency="monthly", day=28, end_date="2027-06-30")
    assert ok.status_code == 201
    assert (ok.json()["day"], ok.json()["next_date"]) == (28, "2026-12-28")
    for day in (29, 30, 31, 0, None, "x"):
        bad = create(alice_api, alice_account, frequency="monthly", day=day)
        assert bad.status_code == 400 and "day" in bad.json(), day
    assert RecurringDeposit.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": "0.50"}, "amount"),
        ({"amount": "1000000.01"}, "amount"),
        ({"amount": "1,000"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"frequency": "daily"}, "frequency"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"start_date": "9999-12-31"}, "start_date"),
        ({"end_date": "2026-11-01"}, "end_date"),
        ({"day": 3}, "day"),
    ],
)
def test_bad_input_is_a_400_on_the_field_and_creates_nothing(
    alice_api, alice_account, fields, field
):
    response = create(alice_api, alice_account, **fields)
    assert response.status_code == 400
    assert field in response.json()
    assert not RecurringDeposit.objects.exists()


def test_the_sixth_schedule_is_refused(alice_api, alice_account):
    for _ in range(5):
        assert create(alice_api, alice_account).status_code == 201
    response = create(alice_api, alice_account)
    assert response.status_code == 400
    assert "at most 5" in str(response.json())


def test_pause_resume_and_edit_over_patch(alice_api, alice_account):
    schedule = create(alice_api, alice_account).json()
    url = path(alice_account, schedule["id"])
    paused = alice_api.patch(url, {"paused": True}, format="json")
    assert paused.status_code == 200
    assert (paused.json()["paused"], paused.json()["next_date"]) == (True, None)
    resumed = alice_api.patch(url, {"paused": False}, format="json")
    assert (resumed.json()["paused"], resumed.json()["next_date"]) == (False, "2026-12-01")
    moved = alice_api.patch(url, {"start_date": "2026-10-01", "amount": "30"}, format="json")
    # A Thursday: the next one from today on, and no backlog since October.
    assert moved.json()["next_date"] == "2026-12-03"
    assert moved.json()["amount"] == "30.00"
    monthly = alice_api.patch(url, {"frequency": "monthly", "day": 15}, format="json")
    assert (monthly.json()["day"], monthly.json()["next_date"]) == (15, "2026-12-15")
    assert alice_api.patch(url, {"day": 31}, format="json").status_code == 400
    assert alice_api.patch(url, {"paused": "maybe"}, format="json").status_code == 400
    assert alice_api.patch(url, [], format="json").status_code == 400
    assert RecurringDeposit.objects.get().day == 15


def test_delete_is_204_and_the_queued_deposit_stays(alice_api, alice_account):
    schedule = create(alice_api, alice_account, start_date="2026-11-30").json()
    create_due_deposits(now=MONDAY_NOON)
    intents = alice_api.get(f"/api/v1/accounts/{alice_account.pk}/intents/").json()["results"]
    assert [(i["schedule"], i["occurrence_date"]) for i in intents] == [
        (schedule["id"], "2026-11-30")
    ]
    assert alice_api.delete(path(alice_account, schedule["id"])).status_code == 204
    assert alice_api.get(path(alice_account, schedule["id"])).status_code == 404
    assert Intent.objects.get().status == "pending"


def test_someone_elses_schedule_is_404_like_a_missing_one(
    alice_api, bob_api, alice_account, bob_account
):
    schedule = create(alice_api, alice_account).json()
    missing = 987654321
    for method in ("get", "patch", "delete"):
        theirs = getattr(bob_api, method)(path(alice_account, schedule["id"]), {}, format="json")
        assert theirs.status_code == 404
        # Alice's schedule under Bob's own account is not found either.
        crossed = getattr(bob_api, method)(path(bob_account, schedule["id"]), {}, format="json")
        absent = getattr(bob_api, method)(path(bob_account, missing), {}, format="json")
        assert crossed.status_code == absent.status_code == 404
        assert crossed.json() == absent.json()
    assert bob_api.get(path(alice_account)).status_code == 404
    assert create(bob_api, alice_account).status_code == 404
    assert RecurringDeposit.objects.get().amount == 50
    assert bob_api.get(path(bob_account)).json() == []


def test_without_credentials_it_is_401(anon, alice_account):
    assert anon.get(path(alice_account)).status_code == 401
    assert create(anon, alice_account).status_code == 401


def test_the_schema_documents_the_endpoints(alice_api):
    schema = alice_api.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/accounts/{account_id}/recurring-deposits/"]) >= {"get", "post"}
    assert set(paths["/api/v1/accounts/{account_id}/recurring-deposits/{schedule_id}/"]) >= {
        "get",
        "patch",
        "delete",
    }
    assert date(2026, 11, 30).weekday() == 0  # the frozen Monday
