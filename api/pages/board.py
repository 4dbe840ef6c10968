"""The board of a pipeline: a column per phase in order, with its deal count and
amount total, a card per deal with its days in the phase, coloured as it rots;
paused and closed phases folded at the end. Filters: owner, object."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import READ_DEALS, Principal
from api.convert import days_since, every_deal
from api.csv_export import DEAL_COLUMNS, Separator, csv_response, deal_pages
from api.deps import ReadModels, Tracker
from api.pages.common import failed, pipeline_of, query
from api.pages.render import Page, render
from api.pages.session import viewer
from domain.errors import InvalidCommand, PhaselogError

if TYPE_CHECKING:
    import datetime as dt

    from domain.pipeline import Phase, Pipeline
    from projections.models import DealRow
    from projections.reports import Reports

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Principal, Depends(viewer(*READ_DEALS))]

CARDS = 20  # an open column's cards; the rest are counted and exported
FOLDED_CARDS = 10  # a paused or closed column's, shown when it is unfolded
CSV_PAGE = 1_000  # deals an export reads at a time
AGEING = 0.75  # of the stale threshold: a card turns amber


@dataclass(frozen=True)
class Card:
    """A deal as its card shows it, its words made here: a template calling
    a method a card costs a board of 250 cards more than its queries."""

    deal_id: str
    contact: str
    object_id: str
    owner: str
    rot: str  # fresh, ageing, rotten, paused or closed
    days: str  # in the phase, as "12 d"
    amount: str
    overdue: str  # "3 days overdue", or empty


@dataclass
class Column:
    phase: Phase
    count: int = 0
    totals: list[tuple[str | None, float]] = field(default_factory=list)
    cards: list[Card] = field(default_factory=list)

    @property
    def more(self) -> int:
        return max(self.count - len(self.cards), 0)


@router.get("/pipelines/{pipeline_id}/board", response_class=HTMLResponse)
def board(
    request: Request,
    pipeline_id: str,
    tracker: Tracker,
    reports: ReadModels,
    who: Viewer,
) -> HTMLResponse:
    pipeline = None
    try:
        pipeline = pipeline_of(tracker, pipeline_id)
        asked = query(request, owner="key", object="key")
        page = Page(request, who, pipeline, now=tracker.clock())
        columns = _columns(reports, pipeline, page, asked["owner"], asked["object"])
    except PhaselogError as error:
        return failed(request, who, error, pipeline)
    return render(
        page,
        "board.html",
        active="board",
        working=[c for c in columns if c.phase.kind == "open"],
        folded=[c for c in columns if c.phase.kind != "open"],
        owner=asked["owner"],
        object_id=asked["object"],
        owners=reports.owners(pipeline.id),
        mine=who.name,
    )


def _columns(
    reports: Reports,
    pipeline: Pipeline,
    page: Page,
    owner: str | None,
    object_id: str | None,
) -> list[Column]:
    columns = {phase.key: Column(phase) for phase in pipeline.phases}
    for total in reports.board_totals(pipeline, owner=owner, object_id=object_id):
        column = columns.get(total.phase)
        if column is None:  # a phase an earlier version had
            continue
        column.count += total.count
        if total.amount is not None:
            column.totals.append((total.currency, total.amount))
    shown = reports.cards(
        pipeline.id,
        [(c.phase.key, _shown(c)) for c in columns.values()],
        now=page.now,
        owner=owner,
        object_id=object_id,
    )
    for key, rows in shown.items():
        column = columns[key]
        column.cards = [_card(column.phase, row, page) for row in rows]
    order = {"open": 0, "paused": 1, "won": 2, "lost": 3}
    return sorted(columns.values(), key=lambda c: order.get(c.phase.kind, 4))


def _shown(column: Column) -> int:
    """How many cards a column shows: none of an empty phase."""
    if not column.count:
        return 0
    return CARDS if column.phase.kind == "open" else FOLDED_CARDS


def _card(phase: Phase, row: DealRow, page: Page) -> Card:
    days = days_since(row.phase_since, page.now)
    rot, overdue = _rot(phase, row, days, page.now)
    return Card(
        deal_id=str(row.deal_id),
        contact=row.contact_id,
        object_id=row.object_id or "",
        owner=row.owner or "",
        rot=rot,
        days="" if days is None else page.t("days", n=days),
        amount=page.money(row.amount, row.currency),
        overdue="" if overdue is None else page.t("overdue", n=overdue),
    )


def _rot(
    phase: Phase, row: DealRow, days: int | None, now: dt.datetime
) -> tuple[str, int | None]:
    """How a card is coloured, and its days overdue if it is stale."""
    if phase.kind != "open":
        return ("paused" if phase.kind == "paused" else "closed"), None
    if row.stale and row.stale_at is not None:
        return "rotten", days_since(row.stale_at, now)
    threshold = phase.stale_after_days
    if threshold and days is not None and days >= AGEING * threshold:
        return "ageing", None
    return "fresh", None


@router.get("/pipelines/{pipeline_id}/deals.csv")
def deals_csv(
    request: Request,
    pipeline_id: str,
    tracker: Tracker,
    reports: ReadModels,
    who: Viewer,
) -> Response:
    """A board column's deals, every one (the board shows the first `CARDS`),
    as the deal list's CSV; with `;` and a byte-order mark where the page's
    language has Excel read `,` as the decimal comma."""
    pipeline = None
    try:
        pipeline = pipeline_of(tracker, pipeline_id)
        asked = query(request, phase="key", owner="key", object="key")
        if asked["phase"] is not None and not pipeline.has_phase(asked["phase"]):
            raise InvalidCommand(
                "phase", f"unknown phase {asked['phase']!r} in pipeline {pipeline.id}"
            )
        page = Page(request, who, pipeline, now=tracker.clock())
    except PhaselogError as error:
        return failed(request, who, error, pipeline)
    now = page.now
    search = partial(
        reports.deals,
        pipeline=pipeline.id,
        phase=asked["phase"],
        contact_id=None,
        object_id=asked["object"],
        owner=asked["owner"],
        stale=None,
        now=now,
    )

    name = f"deals-{pipeline.id}-{asked['phase'] or 'all'}-{now.date().isoformat()}.csv"
    separator: Separator = "," if page.language == "en" else ";"
    rows = deal_pages(every_deal(search, tracker, now, CSV_PAGE))
    return csv_response(rows, DEAL_COLUMNS, name, separator, True)
