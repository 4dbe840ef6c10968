"""Counts the whole-pipeline reports read instead of scanning every row.

Two small tables per generation, kept by triggers on its row tables in the same
transaction as every write, so they are exactly as current as the rows:

- `funnel_counts`: deals per (pipeline, phase, phase_kind, reached_phases), the
  groups the funnel adds up: a pipeline has hundreds, not 100,000 deals.
- `stage_counts`: intervals per (pipeline, phase, open, bucket): a completed
  interval by its duration in 12-hour steps, with the sum of its microseconds for
  an exact mean; an open one by the fortnight it was entered. Time-in-stage finds
  the bucket of each wanted rank from these counts and walks the index from the
  bucket's start instead of from the phase's first row.

A bucket's lower bound is exact: a duration's bucket is its whole seconds divided
by 43,200 in integers, so `duration >= bucket * 43200` holds for exactly the
intervals of that bucket and later ones (durations are never negative: the engine
orders a deal's events by time); an entry fortnight likewise, from its UTC day
counted as a Julian day number (positive, so integer division rounds down). A
bucket holds a few thousand rows at most at 1 M events, and a pipeline a few
thousand buckets (by the hour and the day it was 16,000: 40 ms just to read them).
A NULL phase counts as ''.

PostgreSQL runs one statement-level trigger per write statement (a GROUP BY over
its transition table); SQLite, which has only row triggers, one upsert per row.
The projection only inserts and deletes; an update (by hand) is counted too.
The bulk load of a rebuild runs without them: the counts are filled with one
GROUP BY once the rows are in, in the transaction that makes the triggers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Identifier

if TYPE_CHECKING:
    from collections.abc import Callable

    from psycopg.sql import Composable

    from projections.dialect import Store, Tx

FUNNEL_COUNTS = "funnel_counts"
STAGE_COUNTS = "stage_counts"
DURATION_STEP = 43_200  # seconds: the width of a completed interval's bucket
ENTRY_STEP = 14  # days: the width of an open interval's bucket
JULIAN_1970 = 2_440_587  # the Julian day number of 1970-01-01


@dataclass(frozen=True)
class _Counted:
    """One count table: its key, what a row adds, and the row table it counts."""

    name: str
    source: str  # the row table
    key: tuple[str, ...]
    sums: tuple[str, ...]  # summed columns
    ddl: str
    keys: dict[bool, str]  # postgres? -> SQL of the key's values for row `{r}`
    adds: dict[bool, tuple[str, ...]]  # postgres? -> what row `{r}` adds to `sums`


_MICROS = {
    True: "coalesce(round({r}.duration_seconds * 1e6)::bigint, 0)",
    False: "coalesce(CAST(round({r}.duration_seconds * 1e6) AS INTEGER), 0)",
}
_FUNNEL_KEYS = (
    "{r}.pipeline, coalesce({r}.phase, ''), coalesce({r}.phase_kind, ''), "
    "{r}.reached_phases"
)
COUNTED = (
    _Counted(
        FUNNEL_COUNTS,
        "deal_phases",
        ("pipeline", "phase", "phase_kind", "reached_phases"),
        ("deals",),
        "pipeline text NOT NULL, phase text NOT NULL, phase_kind text NOT NULL, "
        "reached_phases text NOT NULL, deals {bigint} NOT NULL",
        {True: _FUNNEL_KEYS, False: _FUNNEL_KEYS},
        {True: ("1",), False: ("1",)},
    ),
    _Counted(
        STAGE_COUNTS,
        "phase_intervals",
        ("pipeline", "phase", "open", "bucket"),
        ("intervals", "total_us"),
        "pipeline text NOT NULL, phase text NOT NULL, open integer NOT NULL, "
        "bucket {bigint} NOT NULL, intervals {bigint} NOT NULL, "
        "total_us {bigint} NOT NULL",
        {
            True: "{r}.pipeline, {r}.phase, ({r}.exited_at IS NULL)::integer, "
            "CASE WHEN {r}.exited_at IS NULL "
            "THEN (floor(extract(epoch FROM {r}.entered_at) / 86400)::bigint "
            "+ 2440587) / 14 "
            "ELSE floor({r}.duration_seconds)::bigint / 43200 END",
            False: "{r}.pipeline, {r}.phase, {r}.exited_at IS NULL, "
            "CASE WHEN {r}.exited_at IS NULL THEN "
            "CAST(julianday(substr({r}.entered_at, 1, 10)) - 0.5 AS INTEGER) / 14 "
            "ELSE CAST({r}.duration_seconds AS INTEGER) / 43200 END",
        },
        {True: ("1", _MICROS[True]), False: ("1", _MICROS[False])},
    ),
)

_TRANSITIONS = {  # PostgreSQL: the rows each kind of statement hands its trigger
    "INSERT": "NEW TABLE AS added",
    "DELETE": "OLD TABLE AS removed",
    "UPDATE": "OLD TABLE AS removed NEW TABLE AS added",
}


def micros_sum(postgres: bool) -> str:
    """SQL summing `duration_seconds` as whole microseconds, exactly (an integer)."""
    return f"sum({_MICROS[postgres].replace('{r}.', '')})"


class Aggregates:
    """Creates and fills a generation's count tables and makes their triggers."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, tx: Tx, table: Callable[[str], Composable]) -> None:
        """Count tables filled from the row tables, then the triggers.

        `table(name)` names a table of the generation. On PostgreSQL making a
        trigger locks its table against writes until the transaction ends, so no
        write falls between the fill and the trigger; SQLite has one writer.
        """
        pg = self.store.postgres
        for counted in COUNTED:
            target, source = table(counted.name), table(counted.source)
            ddl = SQL(counted.ddl).format(bigint=self.store.types["bigint"])
            tx.execute(SQL("CREATE TABLE {} ({})").format(target, ddl))
            tx.execute(
                SQL("CREATE UNIQUE INDEX {} ON {} ({})").format(
                    Identifier(f"{counted.name}_key_{_bare(target)}"),
                    target,
                    SQL(", ").join(map(Identifier, counted.key)),
                )
            )
            tx.execute(
                SQL("INSERT INTO {} ").format(target) + self.grouped(counted, source)
            )
            if pg:
                self._pg_triggers(tx, counted, source, target)
            else:
                self._sqlite_triggers(tx, counted, source, target)

    def grouped(self, counted: _Counted, source: Composable) -> Composable:
        """The counts of `source` computed afresh: key columns, then sums."""
        pg = self.store.postgres
        sums = ", ".join(f"sum({a.format(r='r')})" for a in counted.adds[pg])
        return SQL("SELECT {}, {} FROM {} r GROUP BY {}").format(
            SQL(counted.keys[pg].format(r="r")),
            SQL(sums),
            source,
            SQL(", ").join(SQL(str(n + 1)) for n in range(len(counted.key))),
        )

    def differences(
        self, tx: Tx, table: Callable[[str], Composable]
    ) -> list[
        tuple[str, tuple[Any, ...], tuple[Any, ...] | None, tuple[Any, ...] | None]
    ]:
        """(count table, key, stored sums, sums of the rows) wherever they differ."""
        found = []
        for counted in COUNTED:
            width = len(counted.key)
            tx.execute(self.grouped(counted, table(counted.source)))
            expected = {tuple(r[:width]): tuple(r[width:]) for r in tx.fetchall()}
            tx.execute(
                SQL("SELECT {}, {} FROM {}").format(
                    SQL(", ").join(map(Identifier, counted.key)),
                    SQL(", ").join(map(Identifier, counted.sums)),
                    table(counted.name),
                )
            )
            stored = {
                tuple(r[:width]): tuple(r[width:])
                for r in tx.fetchall()
                if any(r[width:])  # a group whose rows all went away
            }
            for key in sorted(stored.keys() | expected.keys(), key=str):
                have, want = stored.get(key), expected.get(key)
                if have != want:
                    found.append((counted.name, key, have, want))
        return found

    def _upsert(self, counted: _Counted, target: Composable) -> Composable:
        """ON CONFLICT that adds the new sums to the stored ones."""
        return SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(
            SQL(", ").join(map(Identifier, counted.key)),
            SQL(", ").join(
                SQL("{0} = {1}.{0} + excluded.{0}").format(Identifier(c), target)
                for c in counted.sums
            ),
        )

    def _pg_triggers(
        self, tx: Tx, counted: _Counted, source: Composable, target: Composable
    ) -> None:
        function = self.function(target)

        def add(rows: str, sign: str) -> Composable:
            sums = ", ".join(
                f"{sign}sum({a.format(r='r')})" for a in counted.adds[True]
            )
            return SQL("INSERT INTO {} SELECT {}, {} FROM {} r GROUP BY {}{};").format(
                target,
                SQL(counted.keys[True].format(r="r")),
                SQL(sums),
                SQL(rows),
                SQL(", ").join(SQL(str(n + 1)) for n in range(len(counted.key))),
                self._upsert(counted, target),
            )

        # An update (only ever by hand) takes its old rows out and puts new ones in.
        body = SQL(
            "BEGIN IF TG_OP <> 'DELETE' THEN {} END IF; "
            "IF TG_OP <> 'INSERT' THEN {} END IF; RETURN NULL; END"
        ).format(add("added", ""), add("removed", "-"))
        tx.execute(
            SQL(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql "
                "AS $phaselog$ {} $phaselog$"
            ).format(function, body)
        )
        for event, transitions in _TRANSITIONS.items():
            name = Identifier(f"{_bare(target)}_{event.lower()}")
            # A trigger belongs to its row table: it outlives a dropped count table.
            tx.execute(SQL("DROP TRIGGER IF EXISTS {} ON {}").format(name, source))
            tx.execute(
                SQL(
                    "CREATE TRIGGER {} AFTER {} ON {} REFERENCING {} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
                ).format(name, SQL(event), source, SQL(transitions), function)
            )

    def _sqlite_triggers(
        self, tx: Tx, counted: _Counted, source: Composable, target: Composable
    ) -> None:
        def add(row: str, sign: str) -> Composable:
            keys = counted.keys[False].format(r=row)
            adds = ", ".join(f"{sign}({a.format(r=row)})" for a in counted.adds[False])
            return SQL("INSERT INTO {} VALUES ({}, {}){};").format(
                target, SQL(keys), SQL(adds), self._upsert(counted, target)
            )

        steps = {
            "INSERT": [add("NEW", "")],
            "DELETE": [add("OLD", "-")],
            "UPDATE": [add("OLD", "-"), add("NEW", "")],
        }
        for event, statements in steps.items():
            name = Identifier(f"{_bare(target)}_{event.lower()}")
            tx.execute(SQL("DROP TRIGGER IF EXISTS {}").format(name))
            tx.execute(
                SQL("CREATE TRIGGER {} AFTER {} ON {} BEGIN {} END").format(
                    name, SQL(event), source, SQL(" ").join(statements)
                )
            )

    def function(self, target: Composable) -> Composable:
        """The PostgreSQL trigger function of a count table (dropped with it)."""
        return self.store.table(f"{_bare(target)}_keep")


def _bare(table: Composable) -> str:
    """A table's own name, without schema or quotes."""
    return table.as_string(None).rsplit(".", 1)[-1].strip('"')
