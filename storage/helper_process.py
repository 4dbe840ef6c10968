"""The import's helper process itself: `python -m storage.helper_process`.

It opens its own service on the database its parent names, loads the pipeline
versions its parent uses, then logs each share it is sent and answers (pickle
over its standard input and output; `storage.helper` is the parent's side).
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import IO, TYPE_CHECKING, Any

from domain.commands import Result
from storage.collector import no_gc, tune_gc
from storage.helper import portable
from storage.wiring import open_service

if TYPE_CHECKING:
    from domain.service import PhaseTracker


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    def reply(ok: bool, payload: Any) -> None:
        pickle.dump((ok, payload), replies, pickle.HIGHEST_PROTOCOL)
        replies.flush()

    env, pipelines = pickle.load(requests)
    # Never a helper of its own (no big calls): its share of a big call is
    # big too, and a third process only fights the other two for the cores.
    tracker = open_service(env, big_calls=False)
    # Between calls the default thresholds ran full collections over the deal
    # cache while this process read the next request: its parent, blocked
    # writing that request, lost a fifth of its time.
    tune_gc()
    try:
        _load(tracker, pipelines)
        reply(True, None)
        while True:
            try:
                pipelines, commands, deals_per_transaction = pickle.load(requests)
            except EOFError:
                return
            try:
                _load(tracker, pipelines)
                with no_gc():
                    answers = tracker.log_actions(
                        commands, deals_per_transaction=deals_per_transaction
                    )
            except Exception as error:  # noqa: BLE001 - the parent logs it instead
                reply(False, repr(error))
                continue
            reply(True, [a if isinstance(a, Result) else portable(a) for a in answers])
    finally:
        tracker.close()


def _load(tracker: PhaseTracker, pipelines: list[tuple[str, int]]) -> None:
    for pipeline_id, version in pipelines:
        # A version not known yet loads the pipeline's history, latest included.
        tracker.pipeline(pipeline_id, version)


if __name__ == "__main__":
    # Our replies own stdout; anything else printed goes to stderr.
    _replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, _replies)
