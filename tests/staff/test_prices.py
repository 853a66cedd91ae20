from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from trading.models import Price
from trading.prices import import_prices, parse_price_csv

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")

GOOD = """symbol,at,price
VTI,2026-03-02,285.12
BND,2026-03-02,72.41
VTI,2026-03-03T10:00:00-05:00,286.0001
"""


@pytest.fixture
def securities(make_security):
    return make_security("VTI", None), make_security("BND", None)


def test_a_bare_date_means_that_days_new_york_close(securities):
    rows, errors = parse_price_csv(GOOD)
    assert errors == []
    assert rows[0].at == datetime(2026, 3, 2, 16, 0, tzinfo=NEW_YORK)
    assert rows[0].price == Decimal("285.12")
    assert rows[2].at == datetime(2026, 3, 3, 15, 0, tzinfo=ZoneInfo("UTC"))


def test_a_file_with_one_bad_line_imports_nothing_and_names_the_line(securities):
    text = GOOD + "VTI,2026-03-04,abc\nBND,2026-03-04,72.50\n"
    rows, errors = parse_price_csv(text)
    assert rows == []
    assert len(errors) == 1
    assert errors[0].startswith("line 5:")
    assert "bad number" in errors[0]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("XYZ,2026-03-04,10.00", "unknown symbol 'XYZ'"),
        ("VTI,2026-02-30,10.00", "bad date"),
        ("VTI,yesterday,10.00", "bad date"),
        ("VTI,2026-03-04,-1", "bad number"),
        ("VTI,2026-03-04,0", "greater than zero"),
        ("VTI,2026-03-04,NaN", "bad number"),
        ("VTI,2026-03-04,1e3", "bad number"),
        ("VTI,2026-03-04,1.00001", "at most four decimals"),
        ("VTI,2026-03-04,99999999999999999", "at most 14 digits"),
        ("VTI,2026-03-02,1.00", "duplicate of line 2"),
        ("VTI,2026-03-02T16:00:00,1.00", "duplicate of line 2"),
        ("VTI,2026-03-04", "expected 3 columns"),
    ],
)
def test_each_kind_of_bad_row_is_reported_with_its_line(securities, line, problem):
    rows, errors = parse_price_csv(f"symbol,at,price\nVTI,2026-03-02,1.00\n{line}\n")
    assert rows == []
    assert len(errors) == 1
    assert errors[0].startswith("line 3:")
    assert problem in errors[0]


def test_a_file_without_the_header_is_refused(securities):
    rows, errors = parse_price_csv("VTI,2026-03-02,1.00\n")
    assert rows == []
    assert errors[0].startswith("line 1:")


def test_an_empty_or_binary_file_is_an_error_not_a_crash(securities):
    assert parse_price_csv("")[1]
    assert parse_price_csv(b"\xff\xfe\x00garbage")[1]


def test_importing_a_good_file_twice_leaves_one_price_per_symbol_and_time(securities):
    rows, _ = parse_price_csv(GOOD)
    assert import_prices(rows) == 3
    assert import_prices(rows) == 3
    assert Price.objects.count() == 3
    vti = Price.objects.get(security__symbol="VTI", at=datetime(2026, 3, 2, 16, tzinfo=NEW_YORK))
    assert vti.price == Decimal("285.1200")


def test_a_reimport_with_a_new_price_replaces_the_old_one(securities):
    import_prices(parse_price_csv(GOOD)[0])
    import_prices(parse_price_csv("symbol,at,price\nVTI,2026-03-02,290.00\n")[0])
    assert Price.objects.count() == 3
    assert Price.objects.get(security__symbol="VTI", price=Decimal("290.00"))


def test_the_command_imports_in_batches_with_a_progress_bar(securities, tmp_path, capsys):
    # 12,000 rows: past the bar's threshold and over several batches.
    lines = ["symbol,at,price"]
    for n in range(12000):
        minute, second = divmod(n, 60)
        hour, minute = divmod(minute, 60)
        lines.append(f"VTI,2026-01-01T{hour:02d}:{minute:02d}:{second:02d}+00:00,{100 + n}.25")
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(lines) + "\n")
    call_command("import_prices", str(path))
    assert Price.objects.count() == 12000
    out, err = capsys.readouterr()
    assert "Imported 12000 price(s)" in out
    assert "100% 12000/12000" in err


def test_the_command_reports_errors_and_imports_nothing(securities, tmp_path, capsys):
    path = tmp_path / "prices.csv"
    path.write_text(GOOD + "NOPE,2026-03-04,1.00\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_prices", str(path))
    assert "line 5: unknown symbol 'NOPE'" in capsys.readouterr().err
    assert not Price.objects.exists()


def test_the_admin_import_page_imports_a_good_file(client, operations_user, securities):
    client.force_login(operations_user)
    url = reverse("admin:trading_price_import")
    assert client.get(url).status_code == 200
    upload = SimpleUploadedFile("prices.csv", GOOD.encode(), content_type="text/csv")
    response = client.post(url, {"file": upload})
    assert response.status_code == 302
    assert Price.objects.count() == 3


def test_the_admin_import_page_lists_the_errors_and_imports_nothing(
    client, operations_user, securities
):
    client.force_login(operations_user)
    upload = SimpleUploadedFile("p.csv", (GOOD + "VTI,2026-13-01,1\n").encode())
    response = client.post(reverse("admin:trading_price_import"), {"file": upload})
    assert response.status_code == 200
    assert "line 5: bad date" in response.content.decode()
    assert not Price.objects.exists()


def test_the_admin_import_page_is_closed_to_investors(client, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:trading_price_import"))
    assert response.status_code == 302
