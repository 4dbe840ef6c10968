"""Between API schemas and the service's commands and views."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from api.errors import problem_for
from api.schemas.actions import ActionIn, ActionOut, BatchItemOut, BatchOut
from api.schemas.deals import (
    UNKNOWN_RECORDER,
    DealOut,
    RecorderOut,
    StaleDealOut,
    TimelineEntryOut,
    TimelineOut,
)
from api.schemas.ops import ProjectionOut
from api.schemas.reports import TimeInStageOut
from domain.amounts import weighted
from domain.commands import LogAction
from domain.errors import PhaselogError
from domain.history import VOID, VOIDED

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from decimal import Decimal

    from fastapi import Response

    from domain.commands import DealView, Result, Timeline
    from domain.service import PhaseTracker
    from projections.models import DealRow, DealsPage, ProjectionStatus, TimeInStage


def log_action(body: ActionIn, recorded_by: Mapping[str, str] | None) -> LogAction:
    """The command of a request body, recorded by who sent it (never the body)."""
    return LogAction(**body.model_dump(), recorded_by=recorded_by)


def action_out(result: Result) -> ActionOut:
    return ActionOut(
        deal_id=result.deal_id,
        action_id=result.action_id,
        phase=result.phase,
        previous_phase=result.previous_phase,
        position=result.position,
        effect=result.effect,
    )


def batch_out(answers: Sequence[Result | PhaselogError]) -> BatchOut:
    """Each item as if posted alone; a failed item's field is a path into the body."""
    results = []
    for index, answer in enumerate(answers):
        if isinstance(answer, PhaselogError):
            found = problem_for(answer)
            where = f"actions[{index}]"
            found = found.model_copy(
                update={"field": f"{where}.{found.field}" if found.field else where}
            )
            results.append(
                BatchItemOut(index=index, status=found.status, problem=found)
            )
        else:
            status = 200 if answer.replayed else 201
            results.append(
                BatchItemOut(index=index, status=status, result=action_out(answer))
            )
    accepted = sum(1 for r in results if r.result is not None)
    rejected = len(results) - accepted
    return BatchOut(accepted=accepted, rejected=rejected, results=results)


def answer(result: Result, response: Response) -> ActionOut:
    """201 for a new event, 200 when the command was a replay of a stored one."""
    if result.replayed:
        response.status_code = 200
    return action_out(result)


def projection_out(status: ProjectionStatus) -> ProjectionOut:
    return ProjectionOut.model_validate(asdict(status))


def time_in_stage_out(found: TimeInStage) -> TimeInStageOut:
    """Each duration in seconds and, for people, in days to two decimals."""
    phases = []
    for phase in found.phases:
        values = asdict(phase)
        for name in ("mean", "median", "p90", "current_median_age"):
            seconds = values[f"{name}_seconds"]
            values[f"{name}_days"] = (
                None if seconds is None else round(seconds / DAY, 2)
            )
        phases.append(values)
    return TimeInStageOut(pipeline=found.pipeline, phases=phases)


DAY = 86_400.0  # seconds


def days_since(moment: dt.datetime | None, now: dt.datetime) -> int | None:
    """Whole days from `moment` to `now`, as a person counts them."""
    return None if moment is None else max((now - moment).days, 0)


def deal_out(view: DealView, now: dt.datetime) -> DealOut:
    state = view.state
    return DealOut(
        deal_id=view.deal_id,
        pipeline=view.pipeline,
        pipeline_version=view.pipeline_version,
        contact_id=view.contact_id,
        object_id=view.object_id,
        phase=state.phase,
        phase_label=view.phase_label,
        phase_kind=state.kind,
        phase_since=state.phase_since,
        days_in_phase=days_since(state.phase_since, now),
        opened_at=state.opened_at,
        last_activity_at=state.last_activity_at,
        owner=state.owner,
        probability=view.probability,
        lost_reason=view.lost_reason,
        stale=view.stale,
        **_money(state.amount, state.currency, view.probability),
    )


def every_deal(
    search: Callable[..., DealsPage],
    tracker: PhaseTracker,
    now: dt.datetime,
    size: int,
    after: str | None = None,
) -> Iterator[list[DealOut]]:
    """Every deal `search` finds (after `after`), a page of `size` at a time:
    what a CSV export streams."""
    while True:
        page = search(limit=size, cursor=after)
        yield [deal_row_out(row, tracker, now) for row in page.rows]
        if page.next_cursor is None:
            return
        after = page.next_cursor


def deal_row_out(row: DealRow, tracker: PhaseTracker, now: dt.datetime) -> DealOut:
    """A projected deal row in the same shape as a deal read from the log."""
    return DealOut(**_row_fields(row, tracker, now))


def stale_row_out(
    row: DealRow, tracker: PhaseTracker, now: dt.datetime
) -> StaleDealOut:
    assert row.stale_at is not None  # the stale report's rows have one
    return StaleDealOut(
        **_row_fields(row, tracker, now),
        stale_at=row.stale_at,
        days_overdue=days_since(row.stale_at, now) or 0,
    )


def _row_fields(
    row: DealRow, tracker: PhaseTracker, now: dt.datetime
) -> dict[str, Any]:
    label = None
    if row.phase is not None:
        label = tracker.pipeline(row.pipeline, row.pipeline_version).label_of(row.phase)
    return {
        "deal_id": row.deal_id,
        "pipeline": row.pipeline,
        "pipeline_version": row.pipeline_version,
        "contact_id": row.contact_id,
        "object_id": row.object_id,
        "phase": row.phase,
        "phase_label": label,
        "phase_kind": row.phase_kind,
        "phase_since": row.phase_since,
        "days_in_phase": days_since(row.phase_since, now),
        "opened_at": row.opened_at,
        "last_activity_at": row.last_activity_at,
        "owner": row.owner,
        "probability": row.probability,
        "lost_reason": row.lost_reason,
        "stale": row.stale,
        **_money(row.amount, row.currency, row.probability),
    }


def _money(
    amount: float | Decimal | None, currency: str | None, probability: int | None
) -> dict[str, Any]:
    """A deal's amount as the log and the read model show it alike: a float."""
    return {
        "amount": None if amount is None else float(amount),
        "currency": currency,
        "weighted_amount": weighted(amount, probability),
    }


def recorder_out(recorded_by: Mapping[str, str] | None) -> RecorderOut:
    if not recorded_by:
        return UNKNOWN_RECORDER
    return RecorderOut(
        via=recorded_by.get("via", "unknown"),
        name=recorded_by.get("name", "unknown"),
        key_id=recorded_by.get("key_id"),
    )


def timeline_out(timeline: Timeline) -> TimelineOut:
    entries = []
    for step in timeline.steps:
        entry = step.entry
        void = timeline.voids.get(entry.entry_id) if step.effect == VOIDED else None
        entries.append(
            TimelineEntryOut(
                action_id=entry.entry_id,
                kind=entry.kind,
                type=entry.type,
                outcome=entry.outcome,
                fields=dict(entry.fields),
                note=entry.note,
                actor=entry.actor,
                recorded_by=recorder_out(entry.recorded_by),
                occurred_at=entry.occurred_at,
                recorded_at=entry.recorded_at,
                phase_before=step.phase_before,
                phase_after=step.phase_after,
                voided=step.effect == VOIDED,
                reason=entry.reason,
                voids=entry.voids if step.effect == VOID else None,
                voided_by=void.entry_id if void else None,
                void_reason=void.reason if void else None,
                effect=step.effect,
            )
        )
    return TimelineOut(
        deal_id=timeline.deal.deal_id, phase=timeline.state.phase, entries=entries
    )
