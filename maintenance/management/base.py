"""The base of every maintenance command: one place turns typed errors into exit codes.

docs/design.md section 7: exit 0 done; 2 refused before any change; 3 a step
failed and the database was restored; 4 the restore failed (1 only for an
unhealthy ``check_db``). Never a traceback: an unexpected error is logged
with its traceback and reported in one line; so is Ctrl-C, with what
stopping the command left (:attr:`MaintenanceCommand.stopped_message`). With ``--json``, stdout carries
exactly one JSON object whatever a migration prints (its output goes to
stderr, at the file-descriptor level, so even a subprocess cannot break it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from maintenance.db.progress import Progress, ProgressCallback
from maintenance.exceptions import MaintenanceError, StoppedError

log = logging.getLogger("aurswift.commands")
CONTRACT_CODES = {2, 3, 4}


@dataclass
class Outcome:
    """What a command reports: lines for a terminal, one object for ``--json``, and its exit code."""

    lines: list[str] = field(default_factory=list)
    data: dict[str, object] = field(default_factory=dict)
    exit_code: int = 0
    failure: str = ""  # the one-line reason printed on stderr when exit_code != 0


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (Python and file descriptor 1) to stderr for the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class MaintenanceCommand(BaseCommand):
    """Options in, one service call in :meth:`run`, an :class:`Outcome` out."""

    #: offer ``--json`` (exactly one JSON object on stdout)
    json_option = True
    #: the exit code of every error where the contract gives one (``check_db``: 1, not healthy)
    error_exit_code: int | None = None
    #: what Ctrl-C prints instead of a traceback: what stopping this command leaves, truthfully
    stopped_message = "Nothing was changed."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        """Django's parser; a usage error with ``--json`` still prints its one JSON object (exit 2)."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        usage_error = parser.error

        def error(message: str):
            if self.json_option and "--json" in sys.argv[1:]:
                data = {"error": "UsageError", "message": message, "exit_code": 2}
                sys.stdout.write(json.dumps(data) + "\n")
            usage_error(message)

        parser.error = error  # type: ignore[method-assign]
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        """Django's runner; ``--traceback`` does not turn a reported failure into a traceback and exit 1."""
        try:
            super().run_from_argv(argv)
        except CommandError as err:  # re-raised by Django only under --traceback: end as without it
            self.stderr.write(f"CommandError: {err}")
            sys.exit(err.returncode)

    def add_arguments(self, parser) -> None:
        if self.json_option:
            parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object")
        self.add_options(parser)

    def add_options(self, parser) -> None:
        """Add the command's own options."""

    def run(self, *, as_json: bool, **options: Any) -> Outcome:
        """Do the command's work with one service call and describe the outcome."""
        raise NotImplementedError

    def progress(self, as_json: bool) -> ProgressCallback:
        """Return a progress callback printing one line per step on stderr (stdout is for results)."""

        def report(progress: Progress) -> None:
            if progress.step in {"backup", "restore"} and progress.percent not in (None, 0.0, 100.0):
                return
            self.stderr.write(progress.message)

        return report

    def handle(self, *args, as_json: bool = False, **options) -> None:
        try:
            with stdout_to_stderr() if as_json else contextlib.nullcontext():
                outcome = self.run(as_json=as_json, **options)
        except MaintenanceError as err:
            outcome = self.outcome_for_error(err)
        except (Exception, SystemExit) as err:  # the contract: never a traceback (logged with it), nor another code
            log.exception("%s failed", self.__module__.rsplit(".", 1)[-1])
            code = self.error_exit_code or 2
            outcome = Outcome(
                data={"error": type(err).__name__, "message": str(err), "exit_code": code},
                exit_code=code,
                failure=f"Unexpected error: {err}. Nothing was changed; the details are in the app log.",
            )
        except KeyboardInterrupt:
            outcome = self.outcome_for_error(StoppedError(self.stopped_message))
        if as_json:
            self.stdout.write(json.dumps({**outcome.data, "exit_code": outcome.exit_code}, default=str))
        else:
            for line in outcome.lines:
                self.stdout.write(line)
        if outcome.exit_code:
            raise CommandError(outcome.failure or "failed", returncode=outcome.exit_code)

    def outcome_for_error(self, err: MaintenanceError) -> Outcome:
        """Return the outcome of a typed error: its exit code (2 unless it is 3 or 4) and its message."""
        code = self.error_exit_code or (err.exit_code if err.exit_code in CONTRACT_CODES else 2)
        backup = err.details.get("backup_path")
        return Outcome(
            lines=[f"Backup: {backup}"] if backup else [],
            data={**err.as_dict(), "exit_code": code},
            exit_code=code,
            failure=f"{err.title}: {err.message}",
        )
