"""Child processes that end with the process that started them, even a killed one.

A rebuild's folding workers and `serve`'s server workers are processes of their
own; killed outright (kill -9), their parent had no chance to stop them, and they
went on holding database connections, the SQLite file or the listening port. On
Linux the kernel sends a child a chosen signal when its parent ends
(prctl PR_SET_PDEATHSIG). Elsewhere this does nothing.

The signal comes when the parent's *thread* that started the child ends, not the
whole process: a parent must start these children from a thread that outlives
them (see each caller). In the child the request lasts as long as the thread
that made it: each caller makes it on the child's main thread. A parent that
ended before the child asked for the signal is seen by the child's parent id:
it is no longer the parent's.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

# Set by `phaselog serve` for the worker processes uvicorn starts (the factory
# they run takes no arguments, so this is how they learn their parent's id).
SERVE_PID = "PHASELOG_SERVE_PID"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def end_with_parent(parent: int, signal_number: int) -> None:
    """Have this process sent `signal_number` when `parent` (its parent's pid
    as the parent saw it) ends; at once if it has ended already."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    unused = ctypes.c_ulong(0)
    value = ctypes.c_ulong(signal_number)
    if libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), value, unused, unused, unused):
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    if os.getppid() != parent:  # it ended before the prctl: no signal will come
        signal.raise_signal(signal_number)


def end_with_serve() -> None:
    """In a `serve` worker: stop (SIGTERM, so gracefully) when `serve` ends.

    Nothing to do where the variable is unset or names this process: `serve
    --workers 1` serves in its own process.
    """
    value = os.environ.get(SERVE_PID, "")
    if value.isdigit() and int(value) != os.getpid():
        end_with_parent(int(value), signal.SIGTERM)
