"""The Operations group may view the new read-only admin pages: window chunks, recurring
deposit schedules and trade confirmations (trading.ops.OPERATIONS_PERMISSIONS)."""

from django.db import migrations

OPERATIONS_GROUP = "Operations"
VIEW_PERMISSIONS = ["view_windowchunk", "view_recurringdeposit", "view_confirmation"]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    config = apps.get_app_config("trading")
    config.models_module = True  # create_permissions skips apps whose models module is unset
    create_permissions(config, verbosity=0, apps=apps)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=OPERATIONS_GROUP)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="trading", codename__in=VIEW_PERMISSIONS)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=OPERATIONS_GROUP):
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="trading", codename__in=VIEW_PERMISSIONS
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0014_drop_covered_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
