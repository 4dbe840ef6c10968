"""The guards a new entry passes before it is recorded: each names what is wrong.

`domain.engine.decide` runs the one for the entry's kind (an action's type,
outcome and fields; a manual move's skip policy; a void's target), then checks
the fields the phase it enters requires, and an action's skip policy.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Protocol

from domain.errors import InvalidCommand

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from domain.history import Entry
    from domain.pipeline import FieldSpec, PhaseKind, Pipeline


class Standing(Protocol):
    """Where a deal stands, as a move or an action's skip is judged: a
    `DealState`, or the engine's fold while it re-derives a correction."""

    @property
    def phase(self) -> str | None: ...

    @property
    def kind(self) -> PhaseKind | None: ...

    @property
    def held_phase(self) -> str | None: ...


def check_action(pipeline: Pipeline, entry: Entry) -> None:
    if not entry.type or not pipeline.has_action(entry.type):
        known = ", ".join(a.key for a in pipeline.actions)
        raise InvalidCommand(
            "type", f"unknown action {entry.type!r} in {pipeline.id} (known: {known})"
        )
    action = pipeline.action(entry.type)
    if entry.outcome is not None and entry.outcome not in action.outcomes:
        allowed = ", ".join(action.outcomes) or "none"
        raise InvalidCommand(
            "outcome",
            f"unknown outcome {entry.outcome!r} for {action.key} (allowed: {allowed})",
        )
    if entry.outcome is None and action.outcome_required:
        raise InvalidCommand(
            "outcome", f"{action.key} needs one of: {', '.join(action.outcomes)}"
        )
    for spec in action.requires:
        check_field(spec, entry.fields, action.key)


SKIP_REASON = "skip_reason"  # the action's field that says why it skips phases


def check_move(pipeline: Pipeline, state: Standing, entry: Entry) -> None:
    target = entry.phase
    if not target or not pipeline.has_phase(target):
        raise InvalidCommand("phase", f"unknown phase {target!r} in {pipeline.id}")
    if target == state.phase:
        raise InvalidCommand("phase", f"the deal is already in {target!r}")
    if state.phase is not None and pipeline.phase(state.phase).final:
        raise InvalidCommand(
            "phase", f"{state.phase!r} is final in {pipeline.id}: no move leaves it"
        )
    skipped = _skipped(pipeline, state, target)
    if skipped and pipeline.skip_policy == "forbid":
        raise InvalidCommand(
            "phase", f"{pipeline.id} forbids skipping phases ({', '.join(skipped)})"
        )
    missing_reason = not (entry.reason or "").strip()
    if skipped and pipeline.skip_policy == "reason" and missing_reason:
        raise InvalidCommand(
            "reason", f"moving to {target!r} skips {', '.join(skipped)}: give a reason"
        )


def check_action_skip(
    pipeline: Pipeline, before: Standing, entry: Entry, target: str
) -> None:
    """An action whose rule moves the deal past open phases, under the pipeline's
    `action_skip_policy`: `reason` asks for `fields.skip_reason`.

    `before` is the deal as it stood just before the entry in business time.
    """
    policy = pipeline.action_skip_policy
    if policy == "allow":
        return
    skipped = _skipped(pipeline, before, target)
    if not skipped:
        return
    if policy == "forbid":
        raise InvalidCommand(
            "type",
            f"{entry.type} moves to {target!r}, skipping {', '.join(skipped)}, "
            f"which {pipeline.id} forbids",
        )
    reason = entry.fields.get(SKIP_REASON)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidCommand(
            f"fields.{SKIP_REASON}",
            f"{entry.type} moves to {target!r}, skipping {', '.join(skipped)}: say why",
        )


def _skipped(pipeline: Pipeline, state: Standing, target: str) -> list[str]:
    """The open phases a move from `state` to `target` passes over."""
    kind = pipeline.phase(target).kind
    if kind not in ("open", "won") or state.kind in ("won", "lost"):
        return []  # losing, pausing or reopening a deal skips nothing
    reference = state.held_phase if state.kind == "paused" else state.phase
    if reference is not None and pipeline.index(target) <= pipeline.index(reference):
        return []
    return pipeline.open_phases_between(reference, target)


def check_void(entries: Sequence[Entry], entry: Entry) -> None:
    if not (entry.reason or "").strip():
        raise InvalidCommand("reason", "a void needs a reason")
    targets = [e for e in entries if e.entry_id == entry.voids]
    if not targets:
        raise InvalidCommand("action_id", f"no action {entry.voids!r} on this deal")
    if targets[0].kind == "void":
        raise InvalidCommand(
            "action_id",
            f"{entry.voids!r} is a void, which cannot itself be voided: to restore "
            "the action it voided, log that action again under a new action_id",
        )
    if any(e.kind == "void" and e.voids == entry.voids for e in entries):
        raise InvalidCommand("action_id", f"action {entry.voids!r} is already void")


def check_field(spec: FieldSpec, fields: Mapping[str, Any], context: str) -> None:
    name = f"fields.{spec.name}"
    value = fields.get(spec.name, spec.default)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidCommand(name, f"required by {context}")
    if spec.type == "enum":
        if value not in spec.values:
            raise InvalidCommand(name, f"must be one of: {', '.join(spec.values)}")
        if value in spec.detail_for and spec.detail_field:
            detail = fields.get(spec.detail_field)
            if not isinstance(detail, str) or not detail.strip():
                raise InvalidCommand(
                    f"fields.{spec.detail_field}",
                    f"required when {spec.name} is {value!r}",
                )
    elif spec.type == "date":
        try:
            dt.date.fromisoformat(str(value))
        except ValueError:
            raise InvalidCommand(name, "must be a date (YYYY-MM-DD)") from None
    elif spec.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidCommand(name, "must be a number")
    elif spec.type == "boolean":
        if not isinstance(value, bool):
            raise InvalidCommand(name, "must be true or false")
    elif not isinstance(value, str):
        raise InvalidCommand(name, "must be text")
