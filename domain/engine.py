"""The rule engine: a deal's phase derived from its history, and nothing else.

`replay(pipeline, entries)` folds a deal's entries in business-time order (ties by
recording order) into a `DealState`. `decide(...)` checks a new command against the
pipeline, folds it in where it belongs in time and says what it did. No I/O, no clock:
time is always passed in. Every projection and the aggregate call these two.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from domain.amounts import NO_MONEY
from domain.errors import InvalidCommand
from domain.guards import (
    Standing,
    check_action,
    check_action_skip,
    check_field,
    check_move,
    check_void,
)
from domain.history import (
    BACKWARD,
    KEPT,
    MOVED,
    NO_RULE,
    NOT_DUE,
    NOTHING_TO_RESUME,
    RESUMED,
    SAME,
    TERMINAL,
    VOID,
    VOIDED,
    DealState,
    Entry,
    Interval,
    Step,
    Stood,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from domain.pipeline import PhaseKind, Pipeline


@dataclass(frozen=True)
class Decision:
    """The outcome of a command: the state before and after, and its own step."""

    before: DealState
    after: DealState
    step: Step
    # The fold behind `after` when the entry was appended in business time: the
    # next decision on the same deal may go on from it instead of folding again.
    fold: _Fold | None = field(default=None, repr=False, compare=False)
    # A void or a back-dated entry: steps after it were derived again.
    corrected: bool = False


# -- replay ---------------------------------------------------------------------


def replay(
    pipeline: Pipeline,
    entries: Iterable[Entry],
    *,
    as_of: dt.datetime | None = None,
    known_at: dt.datetime | None = None,
) -> DealState:
    """Fold entries into a state; `as_of` cuts business time, `known_at` recording.

    A void is recorded when it is made, after the business time of the action
    it voids: what is known at `known_at` (by default, everything) says which
    actions never happened, whatever the `as_of`.
    """
    known = [
        e
        for e in entries
        if known_at is None or (e.recorded_at is not None and e.recorded_at <= known_at)
    ]
    voided = {e.voids for e in known if e.kind == "void"}
    chosen = known if as_of is None else [e for e in known if e.occurred_at <= as_of]
    return _fold(pipeline, chosen, voided).state()


def _fold(
    pipeline: Pipeline,
    entries: Sequence[Entry],
    voided: set[str | None] | None = None,
) -> _Fold:
    if voided is None:
        voided = {e.voids for e in entries if e.kind == "void"}
    fold = _Fold(pipeline, voided)
    for entry in sorted(entries, key=_business_order):
        fold.apply(entry)
    return fold


def _business_order(entry: Entry) -> tuple[dt.datetime, int]:
    return entry.occurred_at, entry.seq


class _Fold:
    """The fold's working state: mutable while folding, frozen by `state()`."""

    def __init__(self, pipeline: Pipeline, voided: set[str | None]) -> None:
        self.pipeline = pipeline
        self.voided = voided
        self.counts: dict[str, int] = {}  # a Counter copies ~10x slower
        self.phase: str | None = None
        self.kind: PhaseKind | None = None
        self.phase_since: dt.datetime | None = None
        self.held_phase: str | None = None
        self.phase_fields: Mapping[str, Any] = {}
        self.intervals: list[Interval] = []
        self.steps: list[Step] = []
        self.opened_at: dt.datetime | None = None
        self.last_activity_at: dt.datetime | None = None
        self.owner: str | None = None
        self.money = NO_MONEY
        self.last: dt.datetime | None = None  # latest business time folded
        self.folded = 0  # entries applied

    def copy(self) -> _Fold:
        """A fold to go on from; this one stays as it is."""
        other = _Fold.__new__(_Fold)  # __init__ would only be overwritten
        other.__dict__.update(self.__dict__)
        other.counts = dict(self.counts)
        other.intervals = list(self.intervals)
        other.steps = list(self.steps)
        return other

    def state(self) -> DealState:
        return DealState(
            pipeline=self.pipeline.id,
            version=self.pipeline.version,
            phase=self.phase,
            kind=self.kind,
            phase_since=self.phase_since,
            held_phase=self.held_phase,
            phase_fields=self.phase_fields,
            intervals=tuple(self.intervals),
            steps=tuple(self.steps),
            opened_at=self.opened_at,
            last_activity_at=self.last_activity_at,
            owner=self.owner,
            money=self.money,
        )

    def apply(self, entry: Entry) -> None:
        self.folded += 1
        self.last = entry.occurred_at
        if entry.kind == "void":
            self._stay(entry, VOID)
        elif entry.entry_id in self.voided:
            self._stay(entry, VOIDED)
        else:
            self._apply(entry)

    def _stay(self, entry: Entry, effect: str) -> None:
        self.steps.append(Step(entry, self.phase, self.phase, effect))

    def _apply(self, entry: Entry) -> None:
        at = entry.occurred_at
        if entry.kind != "expiry":
            if self.opened_at is None:
                self.opened_at = at
            self.last_activity_at = at
            self.owner = _owner(self.owner, entry)
            self.money = self.money.carried(entry.fields)
        target, effect = _target(self.pipeline, self, entry, self.counts)
        if target is None:
            self.steps.append(Step(entry, self.phase, self.phase, effect))
            return
        phase = self.pipeline.phase(target)
        chain = phase.chain
        if chain and chain.when_field and not entry.fields.get(chain.when_field):
            chain = None
        intervals = self.intervals
        if intervals:
            # Built directly: `dataclasses.replace` costs several times more, and
            # this runs for nearly every entry of every deal a rebuild folds.
            last = intervals[-1]
            intervals[-1] = Interval(last.phase, last.entered_at, at, last.cause)
        intervals.append(Interval(target, at, None, entry.entry_id))
        self.steps.append(Step(entry, self.phase, target, effect, chain))
        self.phase = target
        self.kind = phase.kind
        self.phase_since = at
        if phase.kind == "open":
            self.held_phase = target
        self.phase_fields = dict(entry.fields)


def _owner(owner: str | None, entry: Entry) -> str | None:
    named = entry.fields.get("owner")
    if isinstance(named, str) and named:
        return named
    return owner or entry.actor


def _target(
    pipeline: Pipeline, state: _Fold, entry: Entry, counts: dict[str, int]
) -> tuple[str | None, str]:
    """Where this entry takes the deal, or None and why it stays."""
    current = state.phase
    if entry.kind == "move":
        assert entry.phase is not None
        return (None, SAME) if entry.phase == current else (entry.phase, MOVED)
    if entry.kind == "expiry":
        return _expiry_target(pipeline, state, entry)
    kind = entry.type
    assert kind is not None
    nth = counts[kind] = counts.get(kind, 0) + 1
    outcome = entry.outcome
    for rule in pipeline.action(kind).rules:
        if rule.outcome is not None and rule.outcome != outcome:
            continue
        if rule.nth is not None and rule.nth != nth:
            continue
        if rule.from_ is not None and current not in rule.from_:
            continue
        break
    else:
        return None, NO_RULE
    explicit = rule.from_ is not None
    if state.kind in ("won", "lost") and not explicit:
        return None, TERMINAL
    if rule.resume:
        if state.kind == "open" or state.held_phase is None:
            return None, NOTHING_TO_RESUME
        return state.held_phase, RESUMED
    if rule.to is None:
        return None, KEPT
    if rule.to == current:
        return None, SAME
    if pipeline.progression == "forward" and not explicit:
        reference = state.held_phase if state.kind == "paused" else current
        target_kind = pipeline.phase(rule.to).kind
        if (
            target_kind == "open"
            and reference is not None
            and pipeline.index(rule.to) < pipeline.index(reference)
        ):
            return None, BACKWARD
    return rule.to, MOVED


def _expiry_target(
    pipeline: Pipeline, state: _Fold, entry: Entry
) -> tuple[str | None, str]:
    if state.kind in ("won", "lost") or state.phase is None:
        return None, TERMINAL
    expiry = pipeline.expiry
    if expiry is None or state.last_activity_at is None:
        return None, NOT_DUE
    due = expiry.due_at(state.opened_at, state.phase_since, state.last_activity_at)
    if due is None or entry.occurred_at < due:
        return None, NOT_DUE
    return entry.phase, MOVED


def expiry_due(pipeline: Pipeline, state: DealState) -> dt.datetime | None:
    """When an open deal expires under its pipeline's policy (the earliest of its
    limits), or None."""
    if pipeline.expiry is None or state.kind not in ("open", "paused"):
        return None
    if state.last_activity_at is None:
        return None
    return pipeline.expiry.due_at(
        state.opened_at, state.phase_since, state.last_activity_at
    )


def is_stale(pipeline: Pipeline, state: DealState, now: dt.datetime) -> bool:
    if state.phase is None or state.kind != "open" or state.phase_since is None:
        return False
    days = pipeline.phase(state.phase).stale_after_days
    return days is not None and now - state.phase_since > dt.timedelta(days=days)


# -- decide: validation of a new command -----------------------------------------


def decide(
    pipeline: Pipeline,
    entries: Sequence[Entry],
    new: Entry,
    prior: Decision | None = None,
) -> Decision:
    """Check `new` against the pipeline and the deal's history; raise or decide.

    `prior`: the decision that appended the last of `entries`, if known; its fold
    is reused (a batch of one deal's actions then folds each entry once).

    A correction (a void, or an entry back-dated before the latest) re-derives
    every step after the point it changes; each is checked again as if the
    corrected history had been typed in order (`_corrected`).
    """
    reusable = prior.fold if prior is not None else None
    if (
        prior is not None
        and reusable is not None
        and reusable.pipeline is pipeline
        and reusable.folded == len(entries)
    ):
        fold, before = reusable.copy(), prior.after
    else:
        fold = _fold(pipeline, entries)
        before = fold.state()
    if new.kind == "action":
        check_action(pipeline, new)
    elif new.kind == "void":
        check_void(entries, new)
    appended = new.kind != "void" and (
        fold.last is None or new.occurred_at >= fold.last
    )
    if appended:  # the common case: the new entry is the latest in business time
        if new.kind == "move":
            check_move(pipeline, before, new)
        fold.apply(new)
        step = fold.steps[-1]
        _check_entered(
            pipeline, step, None, before=before if new.kind == "action" else None
        )
        return Decision(before, fold.state(), step, fold)
    corrected = _corrected(pipeline, entries, new)
    step = next(s for s in reversed(corrected.steps) if s.entry is new)
    return Decision(before, corrected.state(), step, None, corrected=True)


def _corrected(pipeline: Pipeline, entries: Sequence[Entry], new: Entry) -> _Fold:
    """The fold of the history `new` corrects, every step from the point it
    changes on checked as the same history typed in order would have been: a
    manual move, or the phases an action skips, against the deal as it then
    stood, an entered phase against its required fields."""
    everything = [*entries, new]
    fold = _Fold(pipeline, {e.voids for e in everything if e.kind == "void"})
    changed = new
    if new.kind == "void":
        changed = next(e for e in entries if e.entry_id == new.voids)
    point = _business_order(changed)
    for entry in sorted(everything, key=_business_order):
        checked = (
            entry.kind != "void"
            and entry.entry_id not in fold.voided
            and _business_order(entry) >= point
        )
        later = None if entry is new else entry
        # The deal as it then stood, for what a move or an action's skip
        # passes: the fold's phase, kind and held phase before this entry.
        if checked and entry.kind == "move":
            with _rederiving(later, new):
                check_move(pipeline, fold, entry)
        standing = Stood(fold.phase, fold.kind, fold.held_phase)
        fold.apply(entry)
        if checked:
            action = standing if entry.kind == "action" else None
            _check_entered(pipeline, fold.steps[-1], later, new, action)
    return fold


def _check_entered(
    pipeline: Pipeline,
    step: Step,
    later: Entry | None,
    cause: Entry | None = None,
    before: Standing | None = None,
) -> None:
    """The fields the phase a step enters requires, from the step's own entry;
    for an action, given the deal `before` it, the phases it skips."""
    if not step.moved or step.phase_after is None:
        return
    with _rederiving(later, cause):
        for spec in pipeline.phase(step.phase_after).requires:
            check_field(spec, step.entry.fields, f"entering {step.phase_after!r}")
        if before is not None:
            check_action_skip(pipeline, before, step.entry, step.phase_after)


@contextlib.contextmanager
def _rederiving(later: Entry | None, cause: Entry | None) -> Iterator[None]:
    """Say which later entry a correction would make break a rule."""
    try:
        yield
    except InvalidCommand as error:
        if later is None or cause is None:
            raise
        what = "voiding" if cause.kind == "void" else f"this {cause.kind}"
        raise InvalidCommand(
            error.field,
            f"{error.reason}: after {what}, {later.kind} {later.entry_id!r} of "
            f"{later.occurred_at.date().isoformat()} would break this rule "
            "(the same history typed in order would be refused)",
        ) from None
