"""Concurrent writers, pipeline versions and the bulk import path, on both databases."""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING

from api.settings import Settings, eventsourcing_env
from domain.commands import LogAction, Result
from domain.definitions import parse_definition
from domain.errors import ActionConflict, InvalidCommand
from domain.staging import DealRejected
from storage.definitions import PRESETS_DIR, load_presets
from storage.wiring import open_service
from tests.helpers.clock import T0

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.service import PhaseTracker


def test_concurrent_writers_on_one_deal_lose_no_action(
    make_tracker: Callable[..., PhaseTracker],
) -> None:
    # Step: two "processes" (two trackers, two pools) write to the same deal.
    writers = [make_tracker(), make_tracker()]
    per_writer = 15
    start = threading.Barrier(len(writers))
    failures: list[BaseException] = []

    def write(number: int, tracker: PhaseTracker) -> None:
        start.wait()
        for i in range(per_writer):
            try:
                tracker.log_action(
                    LogAction(
                        pipeline="fr-sale",
                        contact_id="shared",
                        object_id="villa",
                        type="viewing",
                        occurred_at=T0 + dt.timedelta(minutes=i, seconds=number),
                        action_id=f"w{number}-{i}",
                    )
                )
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

    threads = [
        threading.Thread(target=write, args=(n, t)) for n, t in enumerate(writers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    deal_id = (
        writers[0]
        .log_action(
            LogAction(
                pipeline="fr-sale",
                contact_id="shared",
                object_id="villa",
                type="negotiation",
                occurred_at=T0 + dt.timedelta(hours=1),
            )
        )
        .deal_id
    )
    steps = writers[1].timeline(deal_id).steps
    assert sorted(
        s.entry.entry_id for s in steps if s.entry.type == "viewing"
    ) == sorted(f"w{n}-{i}" for n in range(2) for i in range(per_writer))
    assert [i.phase for i in writers[1].deal(deal_id).state.intervals] == [
        "first_viewing",
        "second_viewing",
        "sales_negotiation",
    ]


def test_a_new_pipeline_version_leaves_old_deals_replaying_as_before(
    make_tracker: Callable[..., PhaseTracker],
) -> None:
    tracker = make_tracker()
    old = tracker.log_action(
        LogAction(pipeline="fr-sale", contact_id="c", type="viewing", occurred_at=T0)
    )
    tracker.log_action(
        LogAction(
            pipeline="fr-sale",
            contact_id="c",
            type="viewing",
            occurred_at=T0 + dt.timedelta(days=1),
        )
    )
    # Step: the definition changes: only a third viewing counts as a second one.
    text = (PRESETS_DIR / "fr-sale.yaml").read_text(encoding="utf-8")
    rules = "rules: [{nth: 1, to: first_viewing}, {to: second_viewing}]"
    assert rules in text
    changed = parse_definition(
        text.replace(
            rules,
            "rules: [{nth: 2}, {nth: 1, to: first_viewing}, {to: second_viewing}]",
        )
    )
    tracker.register_pipelines([changed])

    assert [p.version for p in tracker.pipeline_versions("fr-sale")] == [1, 2]
    assert tracker.deal(old.deal_id).pipeline_version == 1
    assert tracker.deal(old.deal_id).state.phase == "second_viewing"
    # Step: a deal opened now is pinned to version 2.
    new = tracker.log_action(
        LogAction(pipeline="fr-sale", contact_id="d", type="viewing", occurred_at=T0)
    )
    tracker.log_action(
        LogAction(
            pipeline="fr-sale",
            contact_id="d",
            type="viewing",
            occurred_at=T0 + dt.timedelta(days=1),
        )
    )
    assert tracker.deal(new.deal_id).pipeline_version == 2
    assert tracker.deal(new.deal_id).state.phase == "first_viewing"
    # Step: registering the same definition again adds no version.
    tracker.register_pipelines([changed])
    assert [p.version for p in tracker.pipeline_versions("fr-sale")] == [1, 2]


def test_import_stores_many_deals_and_rejects_a_bad_deal_whole(
    tracker: PhaseTracker,
) -> None:
    def act(contact: str, type: str, at: int, **kw: object) -> LogAction:
        return LogAction(
            pipeline="nl-tesoro",
            contact_id=contact,
            type=type,
            occurred_at=T0 + dt.timedelta(days=at),
            action_id=f"{contact}-{type}-{at}",
            **kw,
        )  # type: ignore[arg-type]

    commands = [
        act("a", "contact_captured", 0),
        act("b", "contact_captured", 0),
        act("a", "budget_confirmed", 1),
        act("b", "deal_lost", 2),  # no lost_reason: all of b is rejected
        act("c", "contact_captured", 0),
        act("c", "contact_captured", 0),  # same key, same content: a replay
    ]
    before = tracker.store.recorder.max_notification_id() or 0

    answers = tracker.log_actions(commands, deals_per_transaction=2)

    assert [type(a).__name__ for a in answers] == [
        "Result",
        "DealRejected",
        "Result",
        "InvalidCommand",
        "Result",
        "Result",
    ]
    assert isinstance(answers[3], InvalidCommand)
    assert answers[3].field == "fields.lost_reason"
    assert isinstance(answers[1], DealRejected)
    a_deal = answers[2]
    assert not isinstance(a_deal, Exception)
    assert tracker.deal(a_deal.deal_id).state.phase == "qualification"
    # 2 deals opened (a, c) with 3 actions: 5 events, nothing for b.
    assert (tracker.store.recorder.max_notification_id() or 0) - before == 5
    # Step: importing the same file again stores nothing and answers the same.
    again = tracker.log_actions(commands)
    assert [getattr(a, "replayed", None) for a in again] == [
        True,
        None,
        True,
        None,
        True,
        True,
    ]
    assert (tracker.store.recorder.max_notification_id() or 0) - before == 5
    conflicting = tracker.log_actions([act("a", "contact_captured", 0, note="x")])
    assert isinstance(conflicting[0], ActionConflict)


def test_group_commit_answers_each_request_and_fails_only_the_bad_one(
    settings: Settings,
) -> None:
    tracker = open_service(
        eventsourcing_env(settings),
        pipelines=load_presets().values(),
        group_commit=True,
    )
    try:
        answers: dict[str, object] = {}
        start = threading.Barrier(8)

        def client(number: int) -> None:
            start.wait()
            for i, type in enumerate(
                ["contact_captured", "budget_confirmed", "deal_lost"]
            ):
                key = f"{number}-{i}"
                try:
                    answers[key] = tracker.log_action(
                        LogAction(
                            pipeline="nl-tesoro",
                            contact_id="shared" if number % 2 else f"c{number}",
                            type=type,
                            occurred_at=T0 + dt.timedelta(hours=i, seconds=number),
                            action_id=key,
                        )
                    )
                except InvalidCommand as error:
                    answers[key] = error

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        # deal_lost without a lost_reason fails alone; the rest is stored.
        assert sorted(
            k for k, a in answers.items() if isinstance(a, InvalidCommand)
        ) == [f"{n}-2" for n in range(8)]
        own = answers["0-1"]
        assert isinstance(own, Result)
        assert tracker.deal(own.deal_id).state.phase == "qualification"
        shared = answers["1-0"]
        assert isinstance(shared, Result)
        steps = tracker.timeline(shared.deal_id).steps
        assert len(steps) == 8  # four clients, two good actions each
    finally:
        tracker.close()
