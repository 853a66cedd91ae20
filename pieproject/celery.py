"""The Celery app and its static beat schedule.

Beat only ever sends two short tasks: ``tick`` every minute (it opens, claims and resumes trade
windows; no ETA or countdown tasks) and ``pay_dividends`` daily. All real work is claimed in the
database, so a duplicated beat message is harmless.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pieproject.settings")

app = Celery("pieproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "tick-every-minute": {
        "task": "trading.tasks.tick",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "pay-dividends-daily": {
        "task": "trading.tasks.pay_dividends",
        # 12:00 UTC is before the 09:30 New York window in both standard and daylight time.
        "schedule": crontab(hour=12, minute=0),
        "options": {"expires": 3600},
    },
    # Daily performance snapshots: every minute it takes the closed days whose inputs changed
    # (nothing most minutes; trading.services.snapshots).
    "performance-snapshots": {
        "task": "trading.tasks.take_snapshots",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}
