"""Why a lost deal was lost, as the lost-reasons report counts it.

The reason is the first field the deal's lost phase requires (its `default` when
the entry gave none: a phase that stands for one reason); the detail is the free
text that reason asks for (`detail_for`): HubSpot's "other" with its details,
a competitor's name for the reason `competitor`. Kept apart, so a report counts
reasons, not every competitor's name as a reason of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.history import DealState
    from domain.pipeline import FieldSpec, Pipeline


def lost_reason(pipeline: Pipeline, state: DealState) -> str | None:
    """Why a lost deal was lost: the first field its lost phase requires."""
    spec = _reason_field(pipeline, state)
    if spec is None:
        return None
    value = state.phase_fields.get(spec.name, spec.default)
    return None if value is None else str(value)


def lost_detail(pipeline: Pipeline, state: DealState) -> str | None:
    """The detail of that reason, where the reason asks for one (else None)."""
    spec = _reason_field(pipeline, state)
    reason = lost_reason(pipeline, state)
    if spec is None or spec.detail_field is None or reason not in spec.detail_for:
        return None
    value = state.phase_fields.get(spec.detail_field)
    return None if value is None else str(value)


def _reason_field(pipeline: Pipeline, state: DealState) -> FieldSpec | None:
    if state.kind != "lost" or state.phase is None:
        return None
    requires = pipeline.phase(state.phase).requires
    return requires[0] if requires else None
