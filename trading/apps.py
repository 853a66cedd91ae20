from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import pre_save


class TradingConfig(AppConfig):
    name = "trading"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        pre_save.connect(
            revoke_tokens_on_credential_change,
            sender=get_user_model(),
            dispatch_uid="trading.revoke_tokens_on_credential_change",
        )


def revoke_tokens_on_credential_change(
    sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """A user's API tokens die with their password and with their account: a new password
    (changed, reset, set in the admin or by ``changepassword``) or a deactivation deletes
    them, so a token an attacker took keeps no access once the victim resets the password.

    A signal on purpose: every path that changes a password ends in ``User.save()``, and
    Django's own views, the admin and the commands cannot all be wrapped by a service.
    """
    from rest_framework.authtoken.models import Token

    if raw or instance.pk is None:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return
    old = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    if old is None:
        return
    if old["password"] != instance.password or (old["is_active"] and not instance.is_active):
        Token.objects.filter(user_id=instance.pk).delete()
