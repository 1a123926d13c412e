#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # With nothing configured (no database, no key) this is the embedded development default, the
    # same as `make run`: DEBUG on. A deployment sets DATABASE_URL or SECRET_KEY, so it keeps the
    # production default (DEBUG off), and gunicorn (config.wsgi) never gets this default at all.
    if not os.environ.get("DATABASE_URL") and not os.environ.get("SECRET_KEY"):
        os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
