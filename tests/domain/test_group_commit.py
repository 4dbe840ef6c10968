"""Group commit hands each request its own answer, whatever the batch path raises."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

import pytest
from eventsourcing.persistence import OperationalError

from domain.commands import LogAction, Result
from domain.errors import NotStored
from storage.group_commit import GroupCommit

if TYPE_CHECKING:
    from collections.abc import Sequence

    from domain.errors import PhaselogError


def _command(contact: str) -> LogAction:
    return LogAction(pipeline="p", contact_id=contact, type="t")


class Batches:
    """A batch path that raises for any batch holding `bad`, else answers all."""

    def __init__(self, bad: str, error: Exception) -> None:
        self.bad, self.error = bad, error
        self.sizes: list[int] = []
        self.gate = threading.Event()

    def __call__(self, commands: Sequence[LogAction]) -> list[Result | PhaselogError]:
        self.gate.wait(30)
        self.sizes.append(len(commands))
        if any(c.contact_id == self.bad for c in commands):
            raise self.error
        return [Result(uuid.uuid4(), c.contact_id, "x", None, 1) for c in commands]


def _submit_all(batches: Batches, contacts: list[str]) -> list[object]:
    group = GroupCommit(batches)
    try:
        futures = [group.enqueue(_command(c)) for c in contacts]
        batches.gate.set()  # all queued: they go as one group
        return [f.exception(30) or f.result() for f in futures]
    finally:
        group.close()


def test_an_unexpected_error_fails_only_the_request_behind_it() -> None:
    batches = Batches("bad", ValueError("a bug"))
    contacts = [f"c-{n}" for n in range(7)] + ["bad"] + [f"d-{n}" for n in range(8)]

    answers = _submit_all(batches, contacts)

    assert isinstance(answers[7], NotStored)
    others = [a for i, a in enumerate(answers) if i != 7]
    assert all(isinstance(a, Result) for a in others)
    assert [a.action_id for a in others] == [c for c in contacts if c != "bad"]  # type: ignore[union-attr]


@pytest.mark.parametrize("size", [1, 5])
def test_an_unreachable_database_is_every_requests_answer_at_once(size: int) -> None:
    down = OperationalError("connection refused")
    batches = Batches("c-0", down)

    answers = _submit_all(batches, [f"c-{n}" for n in range(size)])

    assert answers == [down] * size
    assert sum(batches.sizes) == size  # each tried once: not split and retried
