"""The import path keeps a chained deal and its own later actions in one batch."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from domain.commands import LogAction, Result
from domain.deal import deal_id_for
from tests.helpers.clock import T0

if TYPE_CHECKING:
    from domain.service import PhaseTracker


def lead(type: str, day: int, pipeline: str = "es-leads") -> LogAction:
    return LogAction(
        pipeline=pipeline,
        contact_id="lucia",
        type=type,
        occurred_at=T0 + dt.timedelta(days=day),
        action_id=f"{pipeline}-{type}",
    )


def test_a_converted_lead_and_its_opportunity_import_in_one_transaction(
    tracker: PhaseTracker,
) -> None:
    saves: list[int] = []
    save = tracker.store.save

    def counting_save(objects: Any, keys: Any = ()) -> Any:
        saves.append(len(objects))
        return save(objects, keys)

    tracker.store.save = counting_save  # type: ignore[method-assign]

    # Step: the lead converts (the chain opens the opportunity) and the
    # opportunity's own next action comes later in the same import.
    answers = tracker.log_actions(
        [
            lead("lead_created", 0),
            lead("quote_requested", 2),
            lead("analysis_started", 3, pipeline="es-opportunities"),
        ]
    )

    # Step: every action stored, in ONE save, and the opportunity moved on.
    assert all(isinstance(a, Result) for a in answers)
    assert len(saves) == 1
    opportunity = tracker.deal(deal_id_for("es-opportunities", "lucia", None))
    assert opportunity.state.phase == "analysis"
