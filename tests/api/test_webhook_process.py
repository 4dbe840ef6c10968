"""`phaselog webhooks run` killed outright mid-batch: nothing is lost, and
what is posted twice carries the same webhook-id, for the receiver to drop."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
from typing import TYPE_CHECKING

import pytest

from api.bootstrap import open_tracker
from api.webhooks.admin import WebhookAdmin
from domain.commands import LogAction
from tests.helpers.processes import PHASELOG
from tests.helpers.receiver import Answer, receiving

if TYPE_CHECKING:
    from api.settings import Settings

pytestmark = pytest.mark.process  # starts processes (see pyproject)


def _run(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PHASELOG_DATABASE_URL": settings.database_url,
        "PHASELOG_WEBHOOKS_ALLOW_PRIVATE": "true",
        "PHASELOG_WEBHOOK_RETRY_SECONDS": "0.05,0.1,0.2,0.2",
        "PHASELOG_WEBHOOK_SENDERS": "2",  # slow enough to be killed mid-batch
    }
    return subprocess.Popen(
        [str(PHASELOG), "webhooks", "run"], env=env, stdout=subprocess.DEVNULL
    )


def test_a_killed_delivery_worker_loses_nothing(settings: Settings) -> None:
    allowed = settings.model_copy(update={"webhooks_allow_private": True})
    with receiving() as receiver:
        receiver.answer = lambda _: Answer(200, delay=0.2)
        tracker = open_tracker(allowed)
        try:
            hook = WebhookAdmin(tracker, allowed).create(receiver.url)
            # Step: 20 deals each enter two phases: 40 changes to deliver.
            for n in range(20):
                for kind, day in (("contact_captured", 4), ("budget_confirmed", 5)):
                    tracker.log_action(
                        LogAction(
                            pipeline="nl-tesoro",
                            contact_id=f"c-{n}",
                            type=kind,
                            occurred_at=dt.datetime(2024, 3, day, 9, tzinfo=dt.UTC),
                        )
                    )
        finally:
            tracker.close()

        # Step: the worker starts sending, and is killed outright mid-batch.
        first = _run(allowed)
        try:
            receiver.wait_for(lambda r: len(r) >= 6, timeout=60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        sent_before = len(receiver.requests)
        assert sent_before < 40

        # Step: another one takes over and sends the rest.
        second = _run(allowed)
        try:
            got = receiver.wait_for(lambda r: len({x.id for x in r}) >= 40, timeout=120)
        finally:
            second.terminate()
            second.wait(timeout=30)

    ids = [r.id for r in got]
    assert len(set(ids)) == 40  # every change, each with its own id
    # What came twice came with the same id (a receiver drops it): at most
    # those posted and not yet settled when the worker was killed, the two
    # being posted and the two the round had still to settle (a round settles
    # its ended attempts together, once the first has ended).
    assert len(ids) - len(set(ids)) <= 4
    for n in range(20):
        firsts: dict[str, str] = {}
        for r in got:
            data = r.event["data"]
            if data["contact_id"] == f"c-{n}":
                firsts.setdefault(r.id, data["phase_after"]["key"])
        assert list(firsts.values()) == ["lead", "qualification"]  # in order
    tracker = open_tracker(allowed)
    try:
        log = WebhookAdmin(tracker, allowed).deliveries(hook.id, 0, 100)
    finally:
        tracker.close()
    assert {d.message_id for d in log} == set(ids)
