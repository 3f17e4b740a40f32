"""Shared glue for the maintenance commands: progress lines and typed exits."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from maintenance.db.progress import Progress


def stderr_progress(command: BaseCommand):
    """Return a progress callback that prints each step on stderr (stdout stays for results)."""

    def report(progress: Progress) -> None:
        if progress.step in {"backup", "restore"} and progress.percent not in (None, 0.0, 100.0):
            return  # one line per step is enough in a terminal
        command.stderr.write(progress.message)

    return report


def exit_with(code: int) -> None:
    """Exit with the contract's code (CommandError would always give 1)."""
    sys.stdout.flush()
    sys.exit(code)
