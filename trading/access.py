"""Who may see what: the one ownership rule of the pages and the API.

Below both of them, so that the API does not import the HTML views (or the other way round)
to share it.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from rest_framework.request import Request

from trading.models import Account


def get_account_for_user(request: HttpRequest | Request, pk: int) -> Account:
    """The signed-in user's investor account ``pk``; anyone else's reads as not found (404),
    exactly like a missing one."""
    return get_object_or_404(Account.objects.for_user(request.user).investor(), pk=pk)
