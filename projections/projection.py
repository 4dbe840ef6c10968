"""One projection's parts, and a page of the log folded into one of its generations.

The runner keeps a projection up to date; a rebuild loads a new generation of it
and catches that up; verify folds the whole log again. Each takes a `Projection`:
none of them holds another.
"""

from __future__ import annotations

from dataclasses import dataclass

from projections.dialect import Store
from projections.fold import Folder
from projections.schema import Schema
from projections.source import EventSource
from projections.writer import PageWriter


@dataclass(frozen=True)
class Projection:
    """Where a projection's rows live, and how they are folded and written."""

    name: str
    source: EventSource
    store: Store
    schema: Schema
    folder: Folder
    writer: PageWriter
    page_size: int  # notifications a live page reads
    load_page_size: int  # events a page of a rebuild's (or verify's) scan reads
    rebuild_workers: int | None  # processes folding a rebuild; None: by its size

    @property
    def lock_key(self) -> str:
        """Held by the one process that projects (`Store.wakeup`)."""
        return f"phaselog:{self.schema.tracking.as_string(None)}:{self.name}"

    def page(
        self, generation: int, state: str, position: int
    ) -> tuple[int, int] | None:
        """The notifications after `position` (a page of them) folded into
        `generation`, if it is still `state` at `position`: (notifications
        read, the last one's position); None when another writer moved first."""
        notifications = self.source.recorder.select_notifications(
            position, self.page_size, inclusive_of_start=False
        )
        if not notifications:
            return 0, position
        last = notifications[-1].id
        folded, opened = self.folder.follow(notifications, upto=last)
        written = self.writer.write(
            generation,
            state=state,
            expected=position,
            position=last,
            folded=folded,
            fresh=opened,
        )
        if not written:
            return None
        return len(notifications), last
