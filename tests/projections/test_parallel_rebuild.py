"""A rebuild folded by worker processes over ranges of deal ids gives the same rows."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from projections.build import id_ranges
from tests.projections.conftest import SKIP, log, rows

if TYPE_CHECKING:
    from domain.service import PhaseTracker
    from projections.runner import Projector

pytestmark = pytest.mark.process  # starts processes or servers (see pyproject)


def test_id_ranges_cover_every_id_once() -> None:
    ranges = id_ranges(8)
    assert ranges[0][0] is None and ranges[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    for deal_id in (uuid.UUID(int=0), uuid.uuid4(), uuid.UUID(int=2**128 - 1)):
        inside = [
            (low, high)
            for low, high in ranges
            if (low is None or deal_id >= low) and (high is None or deal_id < high)
        ]
        assert len(inside) == 1


def test_a_rebuild_by_two_workers_gives_identical_read_models(
    tracker: PhaseTracker, projector: Projector
) -> None:
    for n in range(40):
        log(tracker, f"c{n}", "contact_captured", n % 7, actor=f"agent-{n % 3}")
        if n % 2:
            log(tracker, f"c{n}", "viewing", n % 7 + 2, **SKIP)
        if n % 5 == 0:
            log(tracker, f"c{n}", "budget_confirmed", n % 7 + 1)  # back-dated
    projector.catch_up()
    before = rows(projector)
    calls: list[tuple[int, int]] = []
    projector.rebuild_workers = 2

    projector.rebuild(progress=lambda done, total: calls.append((done, total)))

    assert rows(projector) == before
    assert calls[-1][0] == calls[-1][1] == projector.status().head
    assert projector.status().generation == 2
    assert projector.verify() == []
