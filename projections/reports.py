"""Queries over the read models: deal lists, funnel, time-in-stage, stale, lost reasons.

One module per report (`deal_list`, `stale`, `expiring`, `funnel`,
`time_in_stage`, `lost_reasons`, `board`); `Reports` gathers them for the API.
Aggregates are computed by the database (GROUP BY); time-in-stage statistics come
from `projections.stages`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from projections.board import BoardReport
from projections.cards import BoardCards
from projections.deal_list import DealList
from projections.expiring import DueExpiries
from projections.funnel import FunnelReport
from projections.lost_reasons import LostReasonsReport
from projections.schema import DEAL_PHASES, Schema
from projections.source import source_of
from projections.stale import STALE_CURSOR as STALE_CURSOR  # the API checks it
from projections.stale import StaleDeals
from projections.store import store_for
from projections.time_in_stage import TimeInStageReport

if TYPE_CHECKING:
    from domain.service import PhaseTracker


class Reports:
    """Read-only answers from `deal_phases` and `phase_intervals`.

    Each answer is its report's own method, with its signature:
    `deals`, `stale`, `expiring`, `funnel`, `time_in_stage`, `lost_reasons`;
    the board's `board_totals`, `cards` and `owners`.
    """

    def __init__(self, tracker: PhaseTracker) -> None:
        self.store = store_for(source_of(tracker))
        Schema(self.store).ensure()
        self.deal_phases = self.store.table(DEAL_PHASES)
        stages = TimeInStageReport(self.store)
        self.stages = stages.stages
        self.deals = DealList(self.store).deals
        self.stale = StaleDeals(self.store).stale
        self.expiring = DueExpiries(self.store).expiring
        self.funnel = FunnelReport(self.store).funnel
        self.time_in_stage = stages.time_in_stage
        self.lost_reasons = LostReasonsReport(self.store).lost_reasons
        self.board_totals = BoardReport(self.store).board_totals
        board = BoardCards(self.store)
        self.cards = board.cards
        self.owners = board.owners
