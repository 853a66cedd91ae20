"""The client's address behind a known number of trusted proxies (``PIES_TRUSTED_PROXIES``).

django-axes keys its lockout on username and this address. Each proxy appends the address it
received the request from to ``X-Forwarded-For``; only the entries the trusted proxies wrote
can be believed, so with ``N`` proxies the client is the ``N``-th address from the right of
``X-Forwarded-For`` + ``REMOTE_ADDR``. Whatever a client puts in the header itself lands to
the left of that and is never read. With ``N = 0`` (the default: no proxy) the header is
ignored and ``REMOTE_ADDR`` is the client.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    trusted: int = settings.PIES_TRUSTED_PROXIES
    if trusted == 0:
        return remote
    forwarded = [
        part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    hops = [*forwarded, remote or ""]
    if len(hops) <= trusted:
        # Fewer hops than trusted proxies: the request did not come through all of them, so
        # nothing in the header can be believed.
        return remote
    return _address(hops[-(trusted + 1)]) or remote
