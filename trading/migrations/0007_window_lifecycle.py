"""The failed-window lifecycle: windows can be abandoned (status, reason, who; orders get a
cancelled status), custom permissions ``run_window`` and ``abandon_window`` given to the
Operations group, and the settings a window uses copied into its account rows at the freeze.

Rows of windows that may still plan or post (scheduled, running, failed) get their accounts'
current settings: the best there is for a window frozen before this change. Rows of finished
windows stay null (nothing reads them again), so a large history is not rewritten.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


OPERATIONS_GROUP = "Operations"
WINDOW_PERMISSIONS = ["run_window", "abandon_window"]

COPY_SETTINGS = """
    UPDATE trading_windowaccount wa
    SET auto_invest = a.auto_invest, min_cash = a.min_cash, lot_method = a.lot_method
    FROM trading_account a, trading_tradewindow w
    WHERE a.id = wa.account_id AND w.id = wa.window_id
      AND w.status IN ('scheduled', 'running', 'failed')
"""


def grant_window_permissions(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    config = apps.get_app_config("trading")
    config.models_module = True  # create_permissions skips apps whose models module is unset
    create_permissions(config, verbosity=0, apps=apps)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=OPERATIONS_GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="trading", codename__in=WINDOW_PERMISSIONS
        )
    )


def revoke_window_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(
        content_type__app_label="trading", codename__in=WINDOW_PERMISSIONS
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("trading", "0006_fill_model"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="tradewindow",
            options={
                "ordering": ["-scheduled_at", "-id"],
                "permissions": [
                    ("run_window", "Can run a trade window now and retry a failed one"),
                    ("abandon_window", "Can abandon a failed trade window that has no fill"),
                ],
            },
        ),
        migrations.AddField(
            model_name="tradewindow",
            name="abandon_reason",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="tradewindow",
            name="abandoned_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="abandoned_windows",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="windowaccount",
            name="auto_invest",
            field=models.BooleanField(null=True),
        ),
        migrations.AddField(
            model_name="windowaccount",
            name="lot_method",
            field=models.CharField(max_length=10, null=True),
        ),
        migrations.AddField(
            model_name="windowaccount",
            name="min_cash",
            field=models.DecimalField(decimal_places=2, max_digits=18, null=True),
        ),
        migrations.AlterField(
            model_name="order",
            name="status",
            field=models.CharField(
                choices=[
                    ("planned", "Planned"),
                    ("filled", "Filled"),
                    ("waiting", "Waiting for a price"),
                    ("cancelled", "Cancelled (window abandoned)"),
                ],
                default="planned",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="tradewindow",
            name="status",
            field=models.CharField(
                choices=[
                    ("scheduled", "Scheduled"),
                    ("running", "Running"),
                    ("done", "Done"),
                    ("failed", "Failed"),
                    ("missed", "Missed"),
                    ("abandoned", "Abandoned"),
                ],
                default="scheduled",
                max_length=10,
            ),
        ),
        migrations.RunSQL(COPY_SETTINGS, migrations.RunSQL.noop),
        migrations.RunPython(grant_window_permissions, revoke_window_permissions),
    ]
