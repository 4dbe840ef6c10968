"""Time-in-stage by rank lookups equals percentile_cont, value for value."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from projections.filters import deal_filters
from tests.projections.conftest import SKIP, log

if TYPE_CHECKING:
    from domain.service import PhaseTracker
    from projections.runner import Projector


# The rank path is PostgreSQL's (SQLite ranks in Python): run on PostgreSQL only.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_rank_lookups_give_exactly_what_percentile_cont_gives(
    tracker: PhaseTracker, projector: Projector
) -> None:
    assert projector.store.postgres
    # Step: durations with ties, odd and even counts, fractions of a second.
    for n in range(23):
        contact = f"c{n}"
        log(tracker, contact, "contact_captured", n * 0.37)
        if n % 4:
            log(tracker, contact, "budget_confirmed", n * 0.37 + (n % 5) * 1.13)
        if n % 3 == 0:
            at = n * 0.37 + 9.000001 * (n % 2 + 1)
            log(tracker, contact, "viewing", at, **SKIP)
    projector.catch_up()
    stages = projector.reports.stages
    condition, params = deal_filters(tracker.pipeline("nl-tesoro"), None, None, None)

    by_rank = stages.whole("nl-tesoro")
    by_sort = stages.filtered(stages.intervals, condition, params)

    assert by_rank == by_sort
    assert {phase for phase, s in by_rank.items() if s[0] and s[4]} >= {"lead"}
