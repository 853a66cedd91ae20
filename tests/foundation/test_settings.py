"""Settings refuse bad values at start, naming the variable (pieproject/env.py, settings.py).

Three levels: the readers themselves; the settings module as a whole, loaded in this process
with one bad variable at a time (every variable settings.py reads has a bad value here, and a
test checks that none is missing); and a few real `manage.py check` runs in a subprocess.
"""

from __future__ import annotations

import ast
import os
import runpy
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pieproject.env import (
    ConfigError,
    env_bool,
    env_choice,
    env_decimal,
    env_int,
    env_str,
    env_url,
)

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "pieproject" / "settings.py"
VAR = "PIES_TEST_SETTING"
PROD_SECRET = "x" * 20 + "-prod-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


def read(monkeypatch, reader, raw, *args, **kwargs):
    if raw is None:
        monkeypatch.delenv(VAR, raising=False)
    else:
        monkeypatch.setenv(VAR, raw)
    return reader(VAR, *args, **kwargs)


# --- The readers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, Decimal("25.00")),
        ("", Decimal("25.00")),
        ("0", Decimal("0.00")),
        ("25", Decimal("25.00")),
        ("0.5", Decimal("0.50")),
        ("1000000.25", Decimal("1000000.25")),
        ("007.10", Decimal("7.10")),
    ],
)
def test_env_decimal_reads_plain_numbers_and_quantizes_to_its_places(monkeypatch, raw, expected):
    value = read(monkeypatch, env_decimal, raw, Decimal("25.00"), places=2)
    assert value == expected
    assert value.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "-1",
        "-0",
        "+1",
        "1e3",
        "1E3",
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-inf",
        "1_000",
        "1,000.00",
        " 25",
        "25 ",
        "25\n",
        "1.",
        ".5",
        "1.2.3",
        "0x19",
        "\uff12\uff15",  # fullwidth digits: Decimal() takes them
        "\u0662\u0665",  # Arabic-Indic digits: Decimal() takes them
        "25.00 USD",
    ],
)
def test_env_decimal_refuses_anything_but_ascii_digits_and_one_dot(monkeypatch, raw):
    with pytest.raises(ConfigError, match=f"^Environment variable {VAR}=.* is not a plain"):
        read(monkeypatch, env_decimal, raw, Decimal("25.00"), places=2)


def test_env_decimal_refuses_more_places_and_values_out_of_range(monkeypatch):
    with pytest.raises(ConfigError, match=rf"{VAR}='1.001' has more than 2 decimal places"):
        read(monkeypatch, env_decimal, "1.001", Decimal("0"), places=2)
    # Trailing zeros are decimals too: 1.000 is written with three.
    with pytest.raises(ConfigError, match="more than 2 decimal places"):
        read(monkeypatch, env_decimal, "1.000", Decimal("0"), places=2)
    with pytest.raises(ConfigError, match=rf"{VAR}='0.99' must be at least 1"):
        read(monkeypatch, env_decimal, "0.99", Decimal("1"), minimum=Decimal("1"))
    with pytest.raises(ConfigError, match=rf"{VAR}='100.01' must be at most 100"):
        read(monkeypatch, env_decimal, "100.01", Decimal("1"), maximum=Decimal("100"))
    assert read(monkeypatch, env_decimal, "100", Decimal("1"), maximum=Decimal("100")) == 100
    assert read(monkeypatch, env_decimal, "1.23456", Decimal("0")) == Decimal("1.23456")


def test_env_decimal_takes_a_minus_sign_only_when_signed(monkeypatch):
    assert read(monkeypatch, env_decimal, "-1.50", Decimal("0"), signed=True) == Decimal("-1.5")
    assert read(monkeypatch, env_decimal, "2", Decimal("0"), signed=True) == 2
    for raw in ("+1.50", "--1", "- 1", "-", "-NaN"):
        with pytest.raises(ConfigError, match=f"{VAR}=.* is not a plain decimal number"):
            read(monkeypatch, env_decimal, raw, Decimal("0"), signed=True)
    with pytest.raises(ConfigError, match=f"{VAR}='-2' must be at least -1"):
        read(monkeypatch, env_decimal, "-2", Decimal("0"), signed=True, minimum=Decimal("-1"))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("abc", "is not an integer"),
        ("1.0", "is not an integer"),
        ("1e3", "is not an integer"),
        ("+5", "is not an integer"),
        (" 5", "is not an integer"),
        ("5_000", "is not an integer"),  # int() takes it
        ("\u0665", "is not an integer"),  # int() takes it
        ("9" * 31, "is not an integer"),  # past 4,300 digits int() raises its own error
        ("0", "must be at least 1"),
        ("-3", "must be at least 1"),
        ("65536", "must be at most 65535"),
    ],
)
def test_env_int_refuses_non_integers_and_values_out_of_range(monkeypatch, raw, message):
    with pytest.raises(ConfigError, match=f"^Environment variable {VAR}=.*{message}"):
        read(monkeypatch, env_int, raw, 25, minimum=1, maximum=65535)


def test_env_int_reads_integers_in_range(monkeypatch):
    assert read(monkeypatch, env_int, None, 25, minimum=1) == 25
    assert read(monkeypatch, env_int, "65535", 25, minimum=1, maximum=65535) == 65535
    assert read(monkeypatch, env_int, "-4", 0) == -4


def test_env_choice_matches_case_insensitively_and_refuses_the_rest(monkeypatch):
    levels = ("DEBUG", "INFO", "WARNING")
    assert read(monkeypatch, env_choice, None, "INFO", levels) == "INFO"
    assert read(monkeypatch, env_choice, "warning", "INFO", levels) == "WARNING"
    with pytest.raises(ConfigError, match=f"{VAR}='verbose' must be one of DEBUG, INFO, WARNING"):
        read(monkeypatch, env_choice, "verbose", "INFO", levels)


def test_env_str_minimum_length_names_the_variable_but_never_shows_the_value(monkeypatch):
    assert read(monkeypatch, env_str, "long enough", min_length=5) == "long enough"
    with pytest.raises(ConfigError) as refused:
        read(monkeypatch, env_str, "hunter2", min_length=50)
    assert str(refused.value) == (
        f"Environment variable {VAR} must be at least 50 characters long (it has 7)."
    )
    with pytest.raises(ConfigError, match=f"{VAR} is required"):
        read(monkeypatch, env_str, None)


def test_env_bool_refuses_anything_but_the_usual_words(monkeypatch):
    assert read(monkeypatch, env_bool, "Yes", False) is True
    assert read(monkeypatch, env_bool, "off", True) is False
    with pytest.raises(ConfigError, match=f"{VAR}='2' is not a boolean"):
        read(monkeypatch, env_bool, "2", False)


def test_env_url_refuses_other_schemes_and_bad_ports_without_showing_the_password(monkeypatch):
    schemes = ("redis", "rediss")
    assert read(monkeypatch, env_url, "redis://h:6379/1", "redis://x/0", schemes=schemes)
    with pytest.raises(ConfigError, match=f"{VAR}='http://h/0' must be a URL with scheme redis"):
        read(monkeypatch, env_url, "http://h/0", "redis://x/0", schemes=schemes)
    with pytest.raises(ConfigError) as refused:
        read(monkeypatch, env_url, "redis://u:s3cret@h:99999/0", "redis://x/0", schemes=schemes)
    assert str(refused.value) == (
        f"Environment variable {VAR}='redis://u:***@h:99999/0' has a bad port."
    )
    with pytest.raises(ConfigError, match=f"{VAR}='redis://h:port/0' has a bad port"):
        read(monkeypatch, env_url, "redis://h:port/0", "redis://x/0", schemes=schemes)


# --- The settings module, one bad variable at a time ----------------------------------------

# Every variable settings.py reads, with a value it must refuse and (part of) the message.
BAD = [
    ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
    ("SECRET_KEY", "short-but-not-debug", "SECRET_KEY must be at least 50 characters long"),
    ("CSRF_TRUSTED_ORIGINS", "pies.example.com", "'pies.example.com' needs a scheme"),
    ("PIES_EMBEDDED_REDIS_PORT", "70000", "PIES_EMBEDDED_REDIS_PORT='70000' must be at most"),
    ("DATABASE_URL", "mysql://db/pies", "DATABASE_URL='mysql://db/pies' must be a URL"),
    ("REDIS_URL", "redis://127.0.0.1:x/0", "REDIS_URL='redis://127.0.0.1:x/0' has a bad port"),
    ("AXES_FAILURE_LIMIT", "0", "AXES_FAILURE_LIMIT='0' must be at least 1"),
    ("EMAIL_PORT", "smtp", "EMAIL_PORT='smtp' is not an integer"),
    ("EMAIL_USE_TLS", "tls", "EMAIL_USE_TLS='tls' is not a boolean"),
    ("SECURE_SSL_REDIRECT", "sometimes", "SECURE_SSL_REDIRECT='sometimes' is not a boolean"),
    ("SECURE_HSTS_SECONDS", "-1", "SECURE_HSTS_SECONDS='-1' must be at least 0"),
    ("SECURE_PROXY_SSL_HEADER", "https", "SECURE_PROXY_SSL_HEADER='https' is not a boolean"),
    ("CELERY_TASK_SOFT_TIME_LIMIT", "0", "CELERY_TASK_SOFT_TIME_LIMIT='0' must be at least 1"),
    ("CELERY_TASK_TIME_LIMIT", "600", "CELERY_TASK_TIME_LIMIT=600 must be greater than"),
    ("PIES_AUTO_INVEST_TRIGGER", "abc", "PIES_AUTO_INVEST_TRIGGER='abc' is not a plain"),
    ("PIES_AUTO_INVEST_TRIGGER", "-1", "PIES_AUTO_INVEST_TRIGGER='-1' is not a plain"),
    ("PIES_AUTO_INVEST_TRIGGER", "1e3", "PIES_AUTO_INVEST_TRIGGER='1e3' is not a plain"),
    ("PIES_AUTO_INVEST_TRIGGER", "NaN", "PIES_AUTO_INVEST_TRIGGER='NaN' is not a plain"),
    ("PIES_AUTO_INVEST_TRIGGER", "2.505", "PIES_AUTO_INVEST_TRIGGER='2.505' has more than 2"),
    ("PIES_WINDOW_CHUNK_SIZE", "10k", "PIES_WINDOW_CHUNK_SIZE='10k' is not an integer"),
    ("PIES_BROKER_SLIPPAGE_BP", "-5001", "PIES_BROKER_SLIPPAGE_BP='-5001' must be at least -5000"),
    ("PIES_BROKER_SLIPPAGE_BP", "5001", "PIES_BROKER_SLIPPAGE_BP='5001' must be at most 5000"),
    ("PIES_MAX_SLIPPAGE_BP", "-1", "PIES_MAX_SLIPPAGE_BP='-1' must be at least 0"),
    ("PIES_MAX_SLIPPAGE_BP", "1.5", "PIES_MAX_SLIPPAGE_BP='1.5' is not an integer"),
    ("PIES_WINDOW_SPREAD_CHUNKS", "maybe", "PIES_WINDOW_SPREAD_CHUNKS='maybe' is not a boolean"),
    ("PIES_WINDOW_THREADS", "0", "PIES_WINDOW_THREADS='0' must be at least 1"),
    ("PIES_WINDOW_THREADS", "65", "PIES_WINDOW_THREADS='65' must be at most 64"),
    ("PIES_WINDOW_STALL_SECONDS", "9", "PIES_WINDOW_STALL_SECONDS='9' must be at least 10"),
    ("PIES_WINDOW_MAX_ATTEMPTS", "0", "PIES_WINDOW_MAX_ATTEMPTS='0' must be at least 1"),
    ("PIES_CONFIRMATION_BATCH_SIZE", "0", "PIES_CONFIRMATION_BATCH_SIZE='0' must be at least 1"),
    (
        "PIES_CONFIRMATION_RETRY_SECONDS",
        "660",
        "PIES_CONFIRMATION_RETRY_SECONDS=660 must be greater than CELERY_TASK_TIME_LIMIT=660",
    ),
    ("PIES_CONFIRMATION_MAX_ATTEMPTS", "x", "PIES_CONFIRMATION_MAX_ATTEMPTS='x' is not an integer"),
    ("PIES_TRUSTED_PROXIES", "-1", "PIES_TRUSTED_PROXIES='-1' must be at least 0"),
    ("PIES_TRUSTED_PROXIES", "11", "PIES_TRUSTED_PROXIES='11' must be at most 10"),
    ("PIES_TRUSTED_PROXIES", "one", "PIES_TRUSTED_PROXIES='one' is not an integer"),
    ("LOG_LEVEL", "verbose", "LOG_LEVEL='verbose' must be one of DEBUG, INFO, WARNING"),
]
# Read as free text: any value is a value (the mail server, a host list, a database name).
FREE_TEXT = {
    "ALLOWED_HOSTS",
    "TEST_DATABASE_NAME",
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "DEFAULT_FROM_EMAIL",
}
# SECRET_KEY's length is checked only with DEBUG off; the rest run with the test defaults.
NOT_DEBUG = {"DEBUG": "0", "ALLOWED_HOSTS": "example.com", "SECRET_KEY": PROD_SECRET}


def load_settings(monkeypatch, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def variables_read_by_settings() -> set[str]:
    """The first argument of every ``env_*(...)`` call in settings.py, and CSRF's loop."""
    names = set()
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id.startswith("env_")
        ):
            first = node.args[0]
            assert isinstance(first, ast.Constant), ast.unparse(node)
            names.add(first.value)
    return names


def test_every_variable_settings_reads_has_a_bad_value_test_or_is_free_text():
    read = variables_read_by_settings()
    assert "PIES_AUTO_INVEST_TRIGGER" in read and "LOG_LEVEL" in read
    assert read == {name for name, _, _ in BAD} | FREE_TEXT


@pytest.mark.parametrize(("name", "value", "message"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_settings_refuse_a_bad_value_naming_the_variable(monkeypatch, name, value, message):
    env = dict(NOT_DEBUG) if name == "SECRET_KEY" else {}
    env[name] = value
    with pytest.raises(ConfigError) as refused:
        load_settings(monkeypatch, **env)
    assert message in str(refused.value)


def test_settings_read_good_values_into_their_types(monkeypatch):
    loaded = load_settings(
        monkeypatch,
        PIES_AUTO_INVEST_TRIGGER="0.5",
        LOG_LEVEL="debug",
        EMAIL_PORT="587",
        CELERY_TASK_SOFT_TIME_LIMIT="30",
        CELERY_TASK_TIME_LIMIT="31",
    )
    assert loaded["PIES_AUTO_INVEST_TRIGGER"] == Decimal("0.50")
    assert str(loaded["PIES_AUTO_INVEST_TRIGGER"]) == "0.50"
    assert loaded["LOGGING"]["root"]["level"] == "DEBUG"
    assert loaded["EMAIL_PORT"] == 587
    assert (loaded["CELERY_TASK_SOFT_TIME_LIMIT"], loaded["CELERY_TASK_TIME_LIMIT"]) == (30, 31)
    assert "MARKET_TIME_ZONE" not in loaded  # trading.calendar.MARKET_TZ is the one definition


def test_the_default_trigger_is_a_decimal_of_25(monkeypatch):
    monkeypatch.delenv("PIES_AUTO_INVEST_TRIGGER", raising=False)
    assert load_settings(monkeypatch)["PIES_AUTO_INVEST_TRIGGER"] == Decimal("25.00")


def test_a_long_secret_key_passes_with_debug_off(monkeypatch):
    assert load_settings(monkeypatch, **NOT_DEBUG)["SECRET_KEY"] == PROD_SECRET


# --- manage.py check, in a subprocess -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("PIES_AUTO_INVEST_TRIGGER", "abc", "PIES_AUTO_INVEST_TRIGGER='abc' is not a plain"),
        ("PIES_AUTO_INVEST_TRIGGER", "-1", "PIES_AUTO_INVEST_TRIGGER='-1' is not a plain"),
        ("PIES_AUTO_INVEST_TRIGGER", "1e3", "PIES_AUTO_INVEST_TRIGGER='1e3' is not a plain"),
        ("PIES_AUTO_INVEST_TRIGGER", "NaN", "PIES_AUTO_INVEST_TRIGGER='NaN' is not a plain"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL='chatty' must be one of"),
    ],
)
def test_a_bad_setting_fails_manage_py_check_naming_the_variable(name, value, message):
    env = dict(os.environ, **{name: value})
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert message in done.stderr
