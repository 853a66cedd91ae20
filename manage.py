#!/usr/bin/env python
"""Django's command-line utility.

Management commands default to DEBUG=1 for a laptop; production sets DEBUG=0 (and SECRET_KEY)
explicitly, and gunicorn and Celery, which do not start here, default to DEBUG off.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pieproject.settings")
    os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
