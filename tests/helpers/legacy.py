"""Events written past the door's checks, as an older release (or a hand in the
database) may have left them: the read side must cope, or say where it cannot."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from domain.deal import Deal
from domain.history import Entry

if TYPE_CHECKING:
    import uuid

    from domain.service import PhaseTracker

WHEN = dt.datetime(2024, 3, 4, 9, tzinfo=dt.UTC)


def store_unchecked(
    tracker: PhaseTracker,
    contact_id: str,
    *,
    pipeline: str = "nl-tesoro",
    version: int | None = None,
    actions: tuple[str, ...] = ("contact_captured",),
    note: str | None = None,
    **fields: Any,
) -> tuple[uuid.UUID, int]:
    """A deal and its actions stored without the service's checks: (id, the
    position of its last event). `version` may name a pipeline version the
    database never registered."""
    latest = tracker.pipeline(pipeline)
    deal = Deal(
        pipeline=pipeline,
        pipeline_version=version or latest.version,
        contact_id=contact_id,
        object_id=None,
    )
    keys = []
    for number, kind in enumerate(actions if version is None else (), start=1):
        entry = Entry(
            kind="action",
            entry_id=f"legacy-{deal.id.hex[:12]}-{number}",
            occurred_at=WHEN + dt.timedelta(days=number),
            seq=0,
            type=kind,
            fields=fields,
            note=note,
        )
        deal.record(latest, entry, "unchecked")
        keys.append((entry.entry_id, deal.id, "unchecked"))
    positions = tracker.store.save([deal], keys)
    return deal.id, max(positions.values())
