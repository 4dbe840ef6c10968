"""Deal rows of the serving generation as the API shows them (`DealRow`): what
the deal list and the stale report select."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.sql import SQL, Identifier

from projections.models import DealRow
from projections.schema import DEAL_COLUMNS, DEAL_PHASES

if TYPE_CHECKING:
    import datetime as dt

    from projections.dialect import Row, Store

# A DealRow's columns: the deal row less what only the projection itself needs.
ROW_COLUMNS = tuple(
    c
    for c in DEAL_COLUMNS
    if c not in ("stale_after_days", "expires_at", "reached_phases", "lost_detail")
)
STALE_AT = ROW_COLUMNS.index("stale_at")


class DealRows:
    """`select`: the start of a query for deal rows; `row`: one as a `DealRow`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.select = SQL("SELECT {} FROM {}").format(
            SQL(", ").join(map(Identifier, ROW_COLUMNS)), store.table(DEAL_PHASES)
        )

    def row(self, row: Row, now: dt.datetime) -> DealRow:
        (
            deal_id,
            pipeline,
            version,
            contact,
            obj,
            phase,
            kind,
            since,
            opened,
            last,
            owner,
            probability,
            stale_at,
            lost_reason,
            amount,
            currency,
        ) = row
        load = self.store.load_time
        stale_at = load(stale_at)
        return DealRow(
            deal_id=self.store.load_uuid(deal_id),
            pipeline=pipeline,
            pipeline_version=version,
            contact_id=contact,
            object_id=obj,
            phase=phase,
            phase_kind=kind,
            phase_since=load(since),
            opened_at=load(opened),
            last_activity_at=load(last),
            owner=owner,
            probability=probability,
            stale=kind == "open" and stale_at is not None and stale_at < now,
            lost_reason=lost_reason,
            stale_at=stale_at,
            amount=amount,
            currency=currency,
        )
