"""Tiny typed readers for settings from the environment; bad values fail loudly at start.

Every reader names the variable in its error. Numbers are parsed strictly: ASCII digits (and
one ``.`` for decimals), nothing Python's ``int()`` or ``Decimal()`` would also take, such as
surrounding spaces, underscores, exponents, ``NaN``, infinities, non-ASCII digits or a ``+``;
a ``-`` only where the reader allows negative values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from decimal import Decimal
from urllib.parse import urlparse

_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class ConfigError(RuntimeError):
    pass


def _raw(name: str) -> str | None:
    """The variable's value, or None when it is unset or empty (the default applies)."""
    value = os.environ.get(name)
    return None if value is None or value == "" else value


def _bounded(
    name: str,
    raw: str,
    value: Decimal | int,
    minimum: Decimal | int | None,
    maximum: Decimal | int | None,
) -> None:
    if minimum is not None and value < minimum:
        raise ConfigError(f"Environment variable {name}={raw!r} must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"Environment variable {name}={raw!r} must be at most {maximum}.")


def env_str(name: str, default: str | None = None, *, min_length: int | None = None) -> str:
    value = _raw(name)
    if value is None:
        if default is None:
            raise ConfigError(f"Environment variable {name} is required.")
        return default
    if min_length is not None and len(value) < min_length:
        raise ConfigError(
            f"Environment variable {name} must be at least {min_length} characters long "
            f"(it has {len(value)})."
        )
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(
        f"Environment variable {name}={raw!r} is not a boolean (use 1/0, true/false)."
    )


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = _raw(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw) or len(raw) > 30:  # int() refuses past 4,300 digits
        raise ConfigError(
            f"Environment variable {name}={raw!r} is not an integer (ASCII digits only, "
            "at most 30)."
        )
    value = int(raw)
    _bounded(name, raw, value, minimum, maximum)
    return value


def env_decimal(
    name: str,
    default: Decimal,
    *,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    places: int | None = None,
    signed: bool = False,
) -> Decimal:
    """A plain decimal number such as ``25`` or ``25.00``; with ``places``, at most that many
    decimals, and the value comes back quantized to them (``25`` -> ``Decimal("25.00")``)."""
    raw = _raw(name)
    if raw is None:
        value = default
    else:
        if not _DECIMAL.fullmatch(raw) or (raw.startswith("-") and not signed):
            example = "-1.50 or 25.00" if signed else "25.00"
            raise ConfigError(
                f"Environment variable {name}={raw!r} is not a plain "
                f"{'' if signed else 'non-negative '}decimal number (ASCII digits with an "
                f"optional '.', e.g. {example})."
            )
        value = Decimal(raw)
        if places is not None and -value.as_tuple().exponent > places:  # type: ignore[operator]
            raise ConfigError(
                f"Environment variable {name}={raw!r} has more than {places} decimal places."
            )
        _bounded(name, raw, value, minimum, maximum)
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return value


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    """One of ``choices``, matched case-insensitively and returned as spelled in ``choices``."""
    options = list(choices)
    raw = _raw(name)
    if raw is None:
        return default
    for option in options:
        if raw.lower() == option.lower():
            return option
    raise ConfigError(f"Environment variable {name}={raw!r} must be one of {', '.join(options)}.")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_url(name: str, default: str, *, schemes: tuple[str, ...]) -> str:
    value = env_str(name, default)
    parsed = urlparse(value)
    # Errors show the URL without its password.
    shown = value.replace(f":{parsed.password}@", ":***@") if parsed.password else value
    if parsed.scheme not in schemes:
        raise ConfigError(
            f"Environment variable {name}={shown!r} must be a URL with scheme "
            f"{' or '.join(schemes)}."
        )
    try:
        parsed.port  # noqa: B018 (raises on a port that is not a number from 0 to 65535)
    except ValueError:
        raise ConfigError(f"Environment variable {name}={shown!r} has a bad port.") from None
    return value
