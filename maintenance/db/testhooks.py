"""Pause points for crash-safety tests (``AURSWIFT_TEST_PAUSE_AT=<step>``).

A test sets the variable, waits for the line ``AURSWIFT PAUSED AT <step>`` on
stderr and kills the process there with SIGKILL. Without the variable this is
a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import sys
import time


def pause_if(step: str) -> None:
    if os.environ.get("AURSWIFT_TEST_PAUSE_AT") == step:
        print(f"AURSWIFT PAUSED AT {step}", file=sys.stderr, flush=True)
        while True:
            time.sleep(60)
