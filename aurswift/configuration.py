"""A configuration AurSwift cannot start with is said in one line, before Django starts.

Settings are read when Django first needs them; an unusable ``DATABASE_URL``
or a data folder whose name the system refuses would otherwise end every
command, and the app, in a traceback (docs/design.md section 7: never one).
"""

from __future__ import annotations

import contextlib
import json
import sys

#: The exit code of a refusal before any change; ``check_db`` says "not healthy" (1) instead.
REFUSED, UNHEALTHY = 2, 1


def settings_problem(argv: list[str] | None = None) -> str | None:
    """Load the settings; return what is wrong with them in one sentence, or None.

    ``argv``: a command line whose ``--settings``/``--pythonpath`` apply first,
    as Django's own command runner would apply them.
    """
    if argv:
        from django.core.management.base import CommandParser, handle_default_options

        parser = CommandParser(add_help=False, allow_abbrev=False)
        parser.add_argument("--settings")
        parser.add_argument("--pythonpath")
        with contextlib.suppress(Exception):  # a malformed line: Django's runner says what is wrong with it
            handle_default_options(parser.parse_known_args(argv)[0])
    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - reading one setting loads them all
    except Exception as err:  # noqa: BLE001 - ImproperlyConfigured, an OSError about the data folder, a bad value
        return f"AurSwift cannot start with this configuration: {err}. Nothing was changed."
    return None


def refuse(problem: str, argv: list[str]) -> int:
    """Say ``problem`` (one JSON object on stdout too with ``--json``); return the exit code."""
    code = UNHEALTHY if argv[:1] == ["check_db"] else REFUSED
    if "--json" in argv:
        print(json.dumps({"error": "ConfigurationError", "message": problem, "exit_code": code}))
    print(problem, file=sys.stderr)
    return code
