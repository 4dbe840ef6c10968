"""The database's schema version, and the migrations that bring it up to date.

A database made by an earlier phaselog keeps working: every process that opens
the event store looks at `phaselog_schema` (the migrations applied, one row
each) and, if one is missing, takes the migration lock and applies what is
still missing, in order, each recorded as it completes. Looking first keeps a
migrated database's opens to one read; the lock makes processes starting at
once wait for one another instead of migrating twice.

The library's own tables, our action keys and the leaves' table are created
by the recorders (CREATE ... IF NOT EXISTS) before this runs; a migration adds
what an existing database lacks and fills in what the tables should hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from contextlib import AbstractContextManager

SCHEMA_TABLE = "phaselog_schema"
# Text a recorder formats with its table's name ({t}); both databases read it.
CREATE_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS {t} (version INTEGER PRIMARY KEY, "
    "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


class Migration(NamedTuple):
    version: int
    name: str
    apply: Callable[[], None]


class Schema(Protocol):
    """What a recorder offers the migrations of its database."""

    def applied(self) -> set[int]:
        """The versions applied (the table made if it is not there)."""
        ...

    def migration_lock(self) -> AbstractContextManager[None]:
        """Held by one migrating process at a time."""
        ...

    def record_migration(self, version: int, name: str) -> None: ...

    def migrations(self) -> Sequence[Migration]:
        """This database's migrations, in order."""
        ...


def migrate(schema: Schema) -> list[Migration]:
    """Apply what is missing, in order; the migrations applied now."""
    wanted = schema.migrations()
    if {m.version for m in wanted} <= schema.applied():
        return []
    ran = []
    with schema.migration_lock():
        done = schema.applied()  # another process may have migrated meanwhile
        for migration in wanted:
            if migration.version in done:
                continue
            migration.apply()
            schema.record_migration(migration.version, migration.name)
            ran.append(migration)
    return ran
