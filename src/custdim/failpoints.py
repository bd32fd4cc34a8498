"""Named failure points, so tests can kill a real run at an exact step instead of racing a timer.

``CUSTDIM_FAILPOINT=<name>`` ends the process at that point with ``os._exit(FAILPOINT_EXIT)``: no ``finally``
block, no cleanup, no run report, the way ``kill -9`` or a power cut would. ``<name>:sleep=<seconds>`` pauses
there instead (used to hold the run lock in concurrency tests). Several points may be given, comma-separated.
Unset (always, outside tests) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "CUSTDIM_FAILPOINT"
FAILPOINT_EXIT = 77


def reached(name: str) -> None:
    """Mark a point of a run; ends or pauses the process when the environment names this point."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    for item in spec.split(","):
        point, _, action = item.strip().partition(":")
        if point != name:
            continue
        if action.startswith("sleep="):
            time.sleep(float(action.removeprefix("sleep=")))
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(FAILPOINT_EXIT)
