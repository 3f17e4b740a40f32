"""What the maintenance app announces; the start-up (the composition root) listens.

Sending a signal keeps ``maintenance`` free of any import of the shell that
runs it: the app's start-up connects to these when it installs itself.
"""

from django.dispatch import Signal

#: A full check found the live database damaged. Keyword argument: ``message``.
database_corrupted = Signal()

#: The app finished start-up and serves the till. Keyword arguments: ``db_path``, ``data_dir``.
startup_finished = Signal()

#: The update service asks the running app to quit so the stable launcher installs the update.
#: Keyword argument: ``exit_code``. A receiver returns True when it will quit.
restart_requested = Signal()
