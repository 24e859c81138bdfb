"""Crash points for the tests that kill a command at each step of its writes.

``FRAUDCTL_FAULT_AT=<step>`` makes the process SIGKILL itself when it reaches ``<step>``:
the tests then check that every such crash leaves either the old or the new state, and
that the next run cleans up. Unset (always, outside those tests) it costs one lookup.
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT = "FRAUDCTL_FAULT_AT"


def crash_point(step: str) -> None:
    if os.environ.get(ENVIRONMENT) == step:
        os.kill(os.getpid(), signal.SIGKILL)
