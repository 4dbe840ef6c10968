"""The read-model tables, their generations, and the tracking table.

Each generation N has its own tables (`deal_phases_g1`, `phase_intervals_g1`); the
views `deal_phases` and `phase_intervals` point at the active one, so readers never
name a generation. A rebuild fills generation N+1 while N serves, then `swap`
re-points the views and flips the tracking rows in one transaction.

`projection_tracking` has one row per (projection, generation): its position (the
last notification folded into it), its state (`active` or `building`) and the
progress of a build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg.sql import SQL, Composable, Identifier

from projections.aggregates import FUNNEL_COUNTS, STAGE_COUNTS
from projections.count_tables import CountTables

if TYPE_CHECKING:
    from projections.dialect import Store, Tx

PROJECTION = "read_models"
TRACKING = "projection_tracking"
DEAL_PHASES = "deal_phases"
PHASE_INTERVALS = "phase_intervals"
VIEWS = (DEAL_PHASES, PHASE_INTERVALS, FUNNEL_COUNTS, STAGE_COUNTS)

DEAL_COLUMNS = (
    "deal_id",
    "pipeline",
    "pipeline_version",
    "contact_id",
    "object_id",
    "phase",
    "phase_kind",
    "phase_since",
    "opened_at",
    "last_activity_at",
    "owner",
    "probability",
    "stale_after_days",
    "stale_at",
    "expires_at",
    "lost_reason",
    "reached_phases",
    "lost_detail",
    "amount",
    "currency",
)
INTERVAL_COLUMNS = (
    "deal_id",
    "seq",
    "pipeline",
    "phase",
    "entered_at",
    "exited_at",
    "duration_seconds",
    "owner",
)
TIME_COLUMNS = frozenset(
    {
        "phase_since",
        "opened_at",
        "last_activity_at",
        "stale_at",
        "expires_at",
        "entered_at",
        "exited_at",
    }
)

_DEAL_DDL = (
    "deal_id {uuid} NOT NULL, pipeline text NOT NULL, pipeline_version integer "
    "NOT NULL, contact_id text NOT NULL, object_id text, phase text, phase_kind text, "
    "phase_since {ts}, opened_at {ts}, last_activity_at {ts}, owner text, "
    "probability integer, stale_after_days integer, stale_at {ts}, expires_at {ts}, "
    "lost_reason text, reached_phases text NOT NULL, lost_detail text, "
    "amount {float}, currency text"
)
# column -> its type in the DDL, as written there (`{float}`: the store's).
_DEAL_TYPES = dict(c.split(" ", 1) for c in _DEAL_DDL.split(", "))
_INTERVAL_DDL = (
    "deal_id {uuid} NOT NULL, seq integer NOT NULL, pipeline text NOT NULL, "
    "phase text NOT NULL, entered_at {ts} NOT NULL, exited_at {ts}, "
    "duration_seconds {float}, owner text"
)
# (table, index suffix, unique, columns, predicate): the filters the reports and the
# API use. `durations` covers its report's columns (index-only scans); `current`
# holds only open intervals, so a rank among them is a short walk. A deal's row is
# written anew at each of its actions, into every index it has an entry in: the
# optional columns are indexed where set only (a predicate their filters imply),
# and a whole pipeline's funnel reads the count tables, not an index of its own.
# A suffix names one definition: a changed index gets a new one, so `ensure` makes
# it on the serving generation and drops the old (`retire_indexes`).
_INDEXES: tuple[tuple[str, str, bool, tuple[str, ...], str], ...] = (
    (DEAL_PHASES, "pk", True, ("deal_id",), ""),
    # The deal list by pipeline, in its keyset order: no sort of the pipeline's
    # deals for a page (SQLite sorted 70,000 for each page of 50 at 1 M events).
    (DEAL_PHASES, "pipeline_deal", False, ("pipeline", "deal_id"), ""),
    (DEAL_PHASES, "contact", False, ("contact_id",), ""),
    # An owner's funnel, lost reasons and deal list ("my pipeline") read their
    # deals only (at 1 M events a funnel by owner: 30 -> 7 ms).
    (DEAL_PHASES, "owner", False, ("pipeline", "owner"), ""),
    (DEAL_PHASES, "object_set", False, ("object_id",), "object_id IS NOT NULL"),
    # A funnel or lost reasons for a period: the deals opened in it (1 M events,
    # 90 days: PostgreSQL 25 -> 9 ms, SQLite 75 -> 13 ms), at one more entry a
    # deal row written.
    (DEAL_PHASES, "opened", False, ("pipeline", "opened_at"), ""),
    # The stale report's keyset order within a pipeline (only open deals with a
    # stale threshold have a `stale_at`).
    (
        DEAL_PHASES,
        "stale_pages",
        False,
        ("pipeline", "stale_at", "deal_id"),
        "stale_at IS NOT NULL",
    ),
    (DEAL_PHASES, "expiring", False, ("expires_at",), "expires_at IS NOT NULL"),
    # What the deals with an amount are worth, per phase and currency (the
    # funnel's amounts and forecast, the board's totals): only those deals, with
    # every column the sums read (MEASURED).
    (
        DEAL_PHASES,
        "amounts",
        False,
        ("pipeline", "phase", "phase_kind", "currency", "amount", "probability"),
        "amount IS NOT NULL",
    ),
    # Lost reasons: lost deals only, which rarely change again (18.6 -> 2.8 ms).
    (
        DEAL_PHASES,
        "lost",
        False,
        ("pipeline", "lost_reason"),
        "phase_kind = 'lost'",
    ),
    (PHASE_INTERVALS, "pk", True, ("deal_id", "seq"), ""),
    # A period's time-in-stage: each phase's entries in it, with their durations
    # (SQLite, 90 days at 1 M events: 121 -> 56 ms without a lookup a row).
    (
        PHASE_INTERVALS,
        "entries",
        False,
        ("pipeline", "phase", "entered_at", "duration_seconds"),
        "",
    ),
    (
        PHASE_INTERVALS,
        "durations",
        False,
        ("pipeline", "phase", "duration_seconds"),
        "",
    ),
    (
        PHASE_INTERVALS,
        "current",
        False,
        ("pipeline", "phase", "entered_at"),
        "exited_at IS NULL",
    ),
)


def physical(name: str, generation: int) -> str:
    return f"{name}_g{generation}"


class Schema:
    """Creates, swaps and drops generations; reads and moves tracking rows."""

    def __init__(self, store: Store, name: str = PROJECTION) -> None:
        self.store = store
        self.name = name
        self.tracking = store.table(TRACKING)

    def table(self, name: str, generation: int) -> Composable:
        return self.store.table(physical(name, generation))

    def ensure(self) -> None:
        """Create the tracking table and a first, empty, active generation."""
        with self.store.write() as tx:
            # Two processes starting at once must not both create the tables.
            self.store.lock_for_ddl(
                tx, f"phaselog-schema:{self.store.table(TRACKING).as_string(None)}"
            )
            tx.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (name text NOT NULL, generation "
                    "integer NOT NULL, state text NOT NULL, position {} NOT NULL, "
                    "progress {}, PRIMARY KEY (name, generation))"
                ).format(
                    self.tracking, self.store.types["bigint"], self.store.types["float"]
                )
            )
            generations = self.generations(tx)
            if generations:
                # Indexes and counts added since the serving generation was built,
                # and indexes since retired (a no-op once it is up to date).
                active = self.active(tx)[0]
                self.add_columns(tx, active)
                self.retire_indexes(tx, active)
                self.create_indexes(tx, active, analyze=False)
                if self.create_counts(tx, active):
                    self.point_views(tx, active)
                return
            self.create_tables(tx, 1)
            self.create_indexes(tx, 1)
            self.create_counts(tx, 1)
            self.point_views(tx, 1)
            tx.execute(
                SQL("INSERT INTO {} VALUES (%s, 1, 'active', 0, NULL)").format(
                    self.tracking
                ),
                [self.name],
            )

    def generations(self, tx: Tx) -> dict[int, tuple[str, int, float | None]]:
        """generation -> (state, position, progress)."""
        tx.execute(
            SQL(
                "SELECT generation, state, position, progress FROM {} WHERE name = %s"
            ).format(self.tracking),
            [self.name],
        )
        return {int(g): (s, int(p), pr) for g, s, p, pr in tx.fetchall()}

    def active(self, tx: Tx) -> tuple[int, int]:
        """(generation, position) of the generation that serves readers."""
        for generation, (state, position, _) in self.generations(tx).items():
            if state == "active":
                return generation, position
        raise LookupError(f"projection {self.name!r} has no active generation")

    def lock(self, tx: Tx, generation: int) -> tuple[str, int] | None:
        """Lock a generation's tracking row for this transaction: (state, position)."""
        tx.execute(
            SQL(
                "SELECT state, position FROM {} WHERE name = %s AND generation = %s"
            ).format(self.tracking)
            + self.store.for_update,
            [self.name, generation],
        )
        row = tx.fetchone()
        return None if row is None else (row[0], int(row[1]))

    def advance(
        self, tx: Tx, generation: int, position: int, progress: float | None = None
    ) -> None:
        tx.execute(
            SQL(
                "UPDATE {} SET position = %s, progress = %s "
                "WHERE name = %s AND generation = %s"
            ).format(self.tracking),
            [position, progress, self.name, generation],
        )

    # -- generations -------------------------------------------------------------

    def create_tables(self, tx: Tx, generation: int) -> None:
        for name, ddl in ((DEAL_PHASES, _DEAL_DDL), (PHASE_INTERVALS, _INTERVAL_DDL)):
            columns = SQL(ddl).format(**self.store.types)
            tx.execute(
                SQL("CREATE TABLE {} ({})").format(
                    self.table(name, generation), columns
                )
            )

    def add_columns(self, tx: Tx, generation: int) -> None:
        """Columns added since the generation was built, each of its type, empty
        until a rebuild or the deal's next event fills them (`lost_detail`: a
        deal lost before it shows no detail; `amount`: a deal priced before
        shows none)."""
        table = self.table(DEAL_PHASES, generation)
        have = self.store.column_names(tx, table)
        missing = [c for c in DEAL_COLUMNS if c not in have]
        for column in missing:
            # Nullable: rows are there already (a NOT NULL column never came later).
            kind = _DEAL_TYPES[column].removesuffix(" NOT NULL")
            tx.execute(
                SQL("ALTER TABLE {table} ADD COLUMN {column} " + kind).format(
                    table=table, column=Identifier(column), **self.store.types
                )
            )
        if missing:
            self.point_views(tx, generation)  # a view lists its columns when made

    def create_indexes(self, tx: Tx, generation: int, *, analyze: bool = True) -> None:
        """Indexes come after a bulk load: building them once beats updating them."""
        for statement in self.index_statements(generation):
            tx.execute(statement)
        if analyze:
            self.store.analyze_in(
                tx, [self.table(n, generation) for n in (DEAL_PHASES, PHASE_INTERVALS)]
            )

    def index_statements(self, generation: int) -> list[Composable]:
        """One statement an index, each of which may run on its own connection."""
        return [
            SQL("CREATE {}INDEX IF NOT EXISTS {} ON {} ({}){}").format(
                SQL("UNIQUE " if unique else ""),
                Identifier(f"{physical(name, generation)}_{suffix}"),
                self.table(name, generation),
                SQL(", ").join(map(Identifier, columns)),
                SQL(f" WHERE {predicate}" if predicate else ""),
            )
            for name, suffix, unique, columns, predicate in _INDEXES
        ]

    def retire_indexes(self, tx: Tx, generation: int) -> None:
        """Drop the generation's indexes of ours that `_INDEXES` no longer names."""
        wanted = {f"{physical(n, generation)}_{suffix}" for n, suffix, *_ in _INDEXES}
        for name in (DEAL_PHASES, PHASE_INTERVALS):
            table = physical(name, generation)
            for index in self.store.index_names(tx, self.table(name, generation)):
                if index.startswith(f"{table}_") and index not in wanted:
                    tx.execute(SQL("DROP INDEX {}").format(self.store.table(index)))

    def create_counts(self, tx: Tx, generation: int) -> bool:
        """The generation's count tables and triggers, if it has none yet.

        Made once its rows are loaded (the bulk load runs without triggers) and
        before any write that must keep them; True if they were made now.
        """
        if self.store.exists(tx, self.table(FUNNEL_COUNTS, generation)):
            return False
        CountTables(self.store).create(tx, lambda name: self.table(name, generation))
        return True

    def point_views(self, tx: Tx, generation: int) -> None:
        for name in VIEWS:
            self.store.point_view(
                tx, self.store.table(name), self.table(name, generation)
            )

    def begin_build(self, tx: Tx) -> int:
        """A fresh `building` generation after the newest one; a stale build goes."""
        generations = self.generations(tx)
        for generation, (state, _, _) in generations.items():
            if state == "building":
                self.drop(tx, generation)
        generation = max(generations) + 1
        self.create_tables(tx, generation)
        tx.execute(
            SQL("INSERT INTO {} VALUES (%s, %s, 'building', 0, 0.0)").format(
                self.tracking
            ),
            [self.name, generation],
        )
        return generation

    def swap(self, tx: Tx, old: int, new: int) -> None:
        self.point_views(tx, new)
        for generation, state in ((old, "retired"), (new, "active")):
            tx.execute(
                SQL(
                    "UPDATE {} SET state = %s, progress = NULL "
                    "WHERE name = %s AND generation = %s"
                ).format(self.tracking),
                [state, self.name, generation],
            )

    def drop(self, tx: Tx, generation: int) -> None:
        for name in VIEWS:
            tx.execute(
                SQL("DROP TABLE IF EXISTS {}").format(self.table(name, generation))
            )
        CountTables(self.store).drop_triggers(
            tx, lambda name: self.table(name, generation)
        )
        tx.execute(
            SQL("DELETE FROM {} WHERE name = %s AND generation = %s").format(
                self.tracking
            ),
            [self.name, generation],
        )
