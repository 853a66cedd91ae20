"""The Operations group: what the people who run an installation may do in the admin.

Permissions are normally created after all migrations (post_migrate), so on a fresh database
they do not exist yet here: the migration creates them first. The list is frozen in this
file on purpose; ``trading.ops.ensure_operations_group`` (run by seed_demo and createstaff)
keeps the group up to date with later changes.
"""

from django.db import migrations

OPERATIONS_GROUP = "Operations"
PERMISSIONS = {
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
        "view_order",
        "view_blockorder",
        "view_fill",
        "view_lot",
        "view_disposal",
        "view_ledgerentry",
        "view_windowaccount",
    ],
    "pies": ["view_pie", "view_slice"],
    "auth": ["view_user"],
}


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes

    for label in PERMISSIONS:
        config = apps.get_app_config(label)
        config.models_module = True  # create_* skip apps whose models module is unset
        create_contenttypes(config, verbosity=0, apps=apps)
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=OPERATIONS_GROUP)
    for label, codenames in PERMISSIONS.items():
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label=label, codename__in=codenames)
        )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=OPERATIONS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0003_window_engine"),
        ("pies", "0002_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
