"""The write side's one retry policy: how often, and after what pause.

- A read or a save that meets a connection the server ended (a restart, an
  administrator, a timeout) between the pool's check and the statement is tried
  again, as the storage library's own reads are: `TRANSIENT`, `ATTEMPTS` times,
  `WAIT` seconds apart.
- A command that lost a race to another process (it stored the same deal
  first) is staged again at once; a command alone, after `pause`: a random
  wait that grows with the attempt, so that two processes racing for one deal
  do not meet again at the same moment (`domain.writing` counts the attempts).
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.utils import retry

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

TRANSIENT = (InterfaceError, OperationalError)
ATTEMPTS = 10
WAIT = 0.2  # seconds
PAUSE_STEP = 0.002  # seconds: the longest pause before the next try, per attempt


def retried(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, tried again after a transient failure of its connection."""
    decorated: Callable[..., Any] = retry(TRANSIENT, max_attempts=ATTEMPTS, wait=WAIT)(
        function
    )
    return decorated


def pause(attempt: int) -> None:
    """Before a command's next try alone, after its `attempt`-th lost race."""
    time.sleep(random.uniform(0, PAUSE_STEP * attempt))
