"""What one transaction stages, and the answers it gives once saved.

The write path (`domain.writing`) applies a batch's commands to their deals in
memory and gathers here what one save stores: the deals with pending events,
the action keys, and for each command the decision its answer comes from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import InterfaceError, OperationalError

from domain.commands import Result
from domain.deal import Deal
from domain.engine import Decision
from domain.errors import NotStored, PhaselogError
from domain.ports import ActionKey

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable, Mapping


logger = logging.getLogger(__name__)
# The database is out of reach: no command can be stored, each answers so.
UNREACHABLE = (OperationalError, InterfaceError)
Answer = Result | PhaselogError | None  # None: nothing to write (an expiry not due)


class DealRejected(PhaselogError):
    """An action not stored because another action of the same deal was rejected."""


@dataclass
class Staged:
    """What a batch will save in one transaction."""

    deals: list[Deal] = field(default_factory=list)
    keys: list[ActionKey] = field(default_factory=list)
    decisions: list[tuple[int, Deal, Decision]] = field(default_factory=list)
    repeats: list[tuple[int, int]] = field(default_factory=list)  # (index, first)
    tainted: bool = False  # a staged deal holds an event of a rejected unit

    def merge(self, other: Staged) -> None:
        self.deals += other.deals
        self.keys += other.keys
        self.decisions += other.decisions
        self.repeats += other.repeats

    def indexes(self) -> list[int]:
        return [i for i, _, _ in self.decisions] + [i for i, _ in self.repeats]


def answer_saved(
    staged: Staged,
    positions: Mapping[tuple[uuid.UUID, int], int],
    answers: list[Any],
) -> None:
    """Each saved decision's answer, with its log position; repeats replayed."""
    for index, deal, decision in staged.decisions:
        answers[index] = Result(
            deal_id=deal.id,
            action_id=decision.step.entry.entry_id,
            phase=decision.after.phase,
            previous_phase=decision.before.phase,
            position=positions[(deal.id, decision.step.entry.seq)],
            effect=decision.step.effect,
        )
    for index, first_index in staged.repeats:
        original = answers[first_index]
        assert isinstance(original, Result)
        answers[index] = replace(original, replayed=True)


def reject(
    unit: list[int], failed: int, error: PhaselogError, answers: list[Answer]
) -> None:
    """Reject a deal's whole unit: the failing command with its own error."""
    for index in unit:
        answers[index] = (
            error
            if index == failed
            else DealRejected(f"another action of this deal was rejected: {error}")
        )


def not_stored(error: Exception) -> NotStored:
    """The answer to a command that met `error`, logged with its traceback."""
    logger.error("a command was not stored", exc_info=error)
    return NotStored()


def answer_alone(run: Callable[[], Any]) -> Any:
    """A command taken alone: its answer, or the error that refused it.

    An error nobody expected (a bug, a value the database refuses) becomes
    this command's `NotStored`, so the commands around it are stored.
    """
    try:
        return run()
    except PhaselogError as error:
        return error
    except UNREACHABLE:
        raise
    except Exception as error:
        return not_stored(error)
