"""The service on the event store, wired: what every phaselog process runs.

The domain's service (`domain.service.PhaseTracker`) is given its ports here:
the event store on the configured database, the real clock and the retry
policy's pause, and, where asked, group commit and the runner of big calls.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING

from domain.service import ONLINE_DEALS_PER_TRANSACTION, PhaseTracker
from storage.big_calls import BigCalls
from storage.eventstore import EventStore
from storage.group_commit import GroupCommit
from storage.retry import pause

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from domain.pipeline import Pipeline
    from domain.ports import Clock


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def open_service(
    env: Mapping[str, str],
    *,
    pipelines: Iterable[Pipeline] = (),
    clock: Clock = utc_now,
    group_commit: bool = False,
    big_calls: bool = True,
) -> PhaseTracker:
    """The service on the database `env` names, `pipelines` registered.

    `group_commit`: concurrent `log_action` calls coalesce into one transaction
    (a server). `big_calls`: a call of many actions runs without the cyclic
    collector and, on a database a second process can open and with the real
    clock, shares its deals with a helper process (an import).
    """
    store = EventStore(env)
    try:
        tracker = PhaseTracker(store, clock=clock, pause=pause, pipelines=pipelines)
    except BaseException:
        store.close()
        raise
    if group_commit:
        tracker.group_commit = GroupCommit(
            partial(
                tracker.log_actions,
                deals_per_transaction=ONLINE_DEALS_PER_TRANSACTION,
                isolate=True,
            )
        )
    if big_calls:
        tracker.big_calls = BigCalls(
            store.env,
            lambda: [(p.id, p.version) for p in tracker.pipelines()],
            helped=clock is utc_now,
        )
    return tracker
