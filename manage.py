#!/usr/bin/env python
"""Django's command-line utility for AurSwift."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aurswift.settings")
    from aurswift import configuration

    problem = configuration.settings_problem(sys.argv[1:])
    if problem is not None:
        sys.exit(configuration.refuse(problem, sys.argv[1:]))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
