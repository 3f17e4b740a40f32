"""What the maintenance app announces; the start-up (the composition root) listens.

Sending a signal keeps ``maintenance`` free of any import of the shell that
runs it: the app's start-up connects to these when it installs itself.
"""

from django.dispatch import Signal

#: A full check found the live database damaged. Keyword argument: ``message``.
database_corrupted = Signal()
