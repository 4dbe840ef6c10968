"""The board's totals, and the amounts the funnel shows: what the deals now in
each phase are worth, by currency, summed by the database.

A deal's amount and currency are its latest `fields.amount` and
`fields.currency` (`domain.amounts`); its weighted amount is the amount times its
phase's probability in percent. Amounts in different currencies are never added
up: each currency is a total of its own, and a deal with an amount but no
currency is one of currency None.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Composable, Identifier

from domain.amounts import cents
from projections.aggregates import FUNNEL_COUNTS
from projections.dialect import where
from projections.models import AmountTotal, PhaseTotal
from projections.schema import DEAL_PHASES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from domain.pipeline import Pipeline
    from projections.dialect import Row, Store

# (phase, phase_kind, currency, deals, sum of amounts, sum of amount x probability)
# of the deals with an amount; a partial index holds exactly these columns.
_AMOUNTS = SQL(
    "SELECT phase, phase_kind, currency, count(*), sum(amount), "
    "sum(amount * probability) FROM {}{} GROUP BY phase, phase_kind, currency"
)


def amount_groups(
    store: Store, conditions: list[Composable], params: list[Any]
) -> list[Row]:
    """The `_AMOUNTS` groups of the deals now in a phase that match `conditions`."""
    conditions = [*conditions, SQL("amount IS NOT NULL"), SQL("phase IS NOT NULL")]
    query = _AMOUNTS.format(store.table(DEAL_PHASES), where(conditions))
    return store.query(query, params)


def totals(groups: Iterable[Row]) -> list[AmountTotal]:
    """Groups added up by currency (None last), the weighted sum to the cent;
    weighted is None where no deal of the currency has a probability."""
    count: dict[str | None, int] = defaultdict(int)
    amount: dict[str | None, float] = defaultdict(float)
    weighted: dict[str | None, float | None] = {}
    for *_, currency, deals, summed, weighted_sum in groups:
        count[currency] += int(deals)
        amount[currency] += float(summed)
        if weighted_sum is not None:
            weighted[currency] = (weighted.get(currency) or 0.0) + float(weighted_sum)
        else:
            weighted.setdefault(currency, None)
    return [
        AmountTotal(
            currency=currency,
            count=count[currency],
            amount=cents(amount[currency]),
            weighted=_weighted(weighted[currency]),
        )
        for currency in sorted(count, key=lambda c: (c is None, c or ""))
    ]


def _weighted(summed: float | None) -> float | None:
    return None if summed is None else cents(summed / 100)


class BoardReport:
    """Per phase, how many deals are in it and what they are worth."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.deal_phases = store.table(DEAL_PHASES)
        self.funnel_counts = store.table(FUNNEL_COUNTS)

    def board_totals(
        self,
        pipeline: Pipeline,
        owner: str | None = None,
        object_id: str | None = None,
    ) -> list[PhaseTotal]:
        """Every deal now in a phase of `pipeline`, of `owner` and about
        `object_id` where given: per phase and currency, the deals with an
        amount, its total and its weighted total; and per phase one row of
        currency and amount None counting its deals without an amount (absent
        when it has none). A phase's deals are the sum of its rows' counts.
        Phases in pipeline order, those of older versions after them."""
        conditions: list[Composable] = [SQL("pipeline = %s")]
        params: list[Any] = [pipeline.id]
        for column, value in (("owner", owner), ("object_id", object_id)):
            if value is not None:
                conditions.append(SQL("{} = %s").format(Identifier(column)))
                params.append(value)
        priced: dict[str, list[Row]] = defaultdict(list)
        for group in amount_groups(self.store, conditions, params):
            priced[group[0]].append(group)
        found = self._deals(conditions, params, whole=len(params) == 1)
        order = {p.key: i for i, p in enumerate(pipeline.phases)}
        rows: list[PhaseTotal] = []
        for phase in sorted(found, key=lambda p: (order.get(p, len(order)), p)):
            with_amount = 0
            for money in totals(priced.get(phase, [])):
                rows.append(PhaseTotal(phase, *_fields(money)))
                with_amount += money.count
            if found[phase] > with_amount:
                rows.append(PhaseTotal(phase, None, found[phase] - with_amount))
        return rows

    def _deals(
        self, conditions: list[Composable], params: list[Any], *, whole: bool
    ) -> dict[str, int]:
        """phase -> deals now in it: a whole pipeline's from the count tables
        the projection keeps, a filtered one's from its deals."""
        if whole:
            query = SQL(
                "SELECT phase, sum(deals) FROM {} WHERE pipeline = %s "
                "AND phase <> '' GROUP BY phase"
            ).format(self.funnel_counts)
        else:
            query = SQL("SELECT phase, count(*) FROM {}{} GROUP BY phase").format(
                self.deal_phases, where([*conditions, SQL("phase IS NOT NULL")])
            )
        found = self.store.query(query, params)
        return {phase: int(count) for phase, count in found if int(count)}


def _fields(money: AmountTotal) -> tuple[str | None, int, float, float | None]:
    return money.currency, money.count, money.amount, money.weighted
