#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    if sys.argv[1:2] == ["demo"]:  # self-contained: SQLite and the in-process broker
        os.environ["DJANGO_SETTINGS_MODULE"] = "project.demo_settings"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
