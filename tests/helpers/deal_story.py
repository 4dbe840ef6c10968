"""Telling a deal's story to the engine in tests: entries, a clock, no database."""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import TYPE_CHECKING, Any

import pytest

from domain.engine import decide, replay
from domain.errors import InvalidCommand
from domain.history import DealState, Entry, EntryKind, Step
from storage.definitions import load_presets

if TYPE_CHECKING:
    from collections.abc import Callable

    from domain.pipeline import Pipeline

START = dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC)


@cache
def presets() -> dict[str, Pipeline]:
    return load_presets()


def preset(pipeline_id: str) -> Pipeline:
    return presets()[pipeline_id]


def at_day(day: float) -> dt.datetime:
    """A business time `day` days after the fixed start of every story."""
    return START + dt.timedelta(days=day)


class Story:
    """One deal, told command by command; each goes through `decide` like the app.

    Each command happens `days` after the previous one unless `at` back-dates it. A
    rejected command raises and is not kept, as the application would store nothing.
    """

    def __init__(self, pipeline: Pipeline | str) -> None:
        self.pipeline = preset(pipeline) if isinstance(pipeline, str) else pipeline
        self.entries: list[Entry] = []
        self.now = START

    def log(
        self,
        action: str,
        outcome: str | None = None,
        *,
        days: float = 1,
        at: dt.datetime | None = None,
        **fields: Any,
    ) -> Step:
        return self._submit(
            "action", days, at, type=action, outcome=outcome, fields=fields
        )

    def rejects(
        self, action: str, outcome: str | None = None, **fields: Any
    ) -> InvalidCommand:
        """The error logging this action raises; it asserts nothing was stored."""
        return self.rejected(lambda: self.log(action, outcome, **fields))

    def rejects_move(self, phase: str, **options: Any) -> InvalidCommand:
        return self.rejected(lambda: self.move(phase, **options))

    def rejected(self, command: Callable[[], Step]) -> InvalidCommand:
        """The InvalidCommand `command` raises; the story is left as it was."""
        kept, now = len(self.entries), self.now
        with pytest.raises(InvalidCommand) as error:
            command()
        assert len(self.entries) == kept, "a rejected command stores nothing"
        self.now = now
        return error.value

    def move(
        self,
        phase: str,
        *,
        reason: str | None = None,
        fields: dict[str, Any] | None = None,
        days: float = 1,
    ) -> Step:
        return self._submit(
            "move", days, None, phase=phase, reason=reason, fields=fields or {}
        )

    def void(self, step: Step, reason: str = "logged by mistake") -> Step:
        return self._submit("void", 0, None, voids=step.entry.entry_id, reason=reason)

    def expire(self, *, days: float) -> Step:
        """The sweeper's expiry entry, `days` after the previous entry."""
        expiry = self.pipeline.expiry
        assert expiry is not None, f"{self.pipeline.id} has no expiry policy"
        return self._submit(
            "expiry", days, None, phase=expiry.to, fields=dict(expiry.fields)
        )

    def _submit(
        self, kind: EntryKind, days: float, at: dt.datetime | None, **data: Any
    ) -> Step:
        if at is None:
            self.now += dt.timedelta(days=days)
        seq = len(self.entries) + 1
        new = Entry(
            kind=kind,
            entry_id=f"e{seq}",
            occurred_at=at or self.now,
            seq=seq,
            recorded_at=self.now,
            **data,
        )
        step = decide(self.pipeline, self.entries, new).step
        self.entries.append(new)
        return step

    @property
    def state(self) -> DealState:
        return replay(self.pipeline, self.entries)

    @property
    def phase(self) -> str | None:
        return self.state.phase

    def visited(self) -> list[str]:
        """The phases entered, in order, as the intervals record them."""
        return [interval.phase for interval in self.state.intervals]


def open_chained(step: Step) -> Story:
    """The deal a chained phase opens, as the application service would open it."""
    assert step.chain is not None, f"{step.phase_after} opened no chained deal"
    chained = Story(step.chain.pipeline)
    chained.now = step.entry.occurred_at - dt.timedelta(days=1)
    chained.log(step.chain.action)
    return chained
