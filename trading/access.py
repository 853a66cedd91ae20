"""Who may see what: the one ownership rule of the pages and the API.

Below both of them, so that the API does not import the HTML views (or the other way round)
to share it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from rest_framework.request import Request

from trading.models import Account

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def signed_in_user(request: HttpRequest | Request) -> User:
    """The user of a view behind a login (``login_required``, the API's authentication):
    others were sent away before the view ran, so an anonymous one here is refused (403)."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    return user


def get_account_for_user(request: HttpRequest | Request, pk: int) -> Account:
    """The signed-in user's investor account ``pk``; anyone else's reads as not found (404),
    exactly like a missing one."""
    return get_object_or_404(Account.objects.for_user(request.user).investor(), pk=pk)
