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

This module defines the count tables; `count_tables` makes, fills and checks
them, and each store makes the triggers its database can run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg.sql import SQL, Identifier

if TYPE_CHECKING:
    from collections.abc import Mapping

    from psycopg.sql import Composable

FUNNEL_COUNTS = "funnel_counts"
STAGE_COUNTS = "stage_counts"
DURATION_STEP = 43_200  # seconds: the width of a completed interval's bucket
ENTRY_STEP = 14  # days: the width of an open interval's bucket
JULIAN_1970 = 2_440_587  # the Julian day number of 1970-01-01


@dataclass(frozen=True)
class Counted:
    """One count table: its key, what a row adds, and the row table it counts.

    `keys` and `adds` are SQL of a row `{r}`; `{open}`, `{bucket}` and `{micros}`
    in them are the store's own SQL for the same (`Store.count_terms`).
    """

    name: str
    source: str  # the row table
    key: tuple[str, ...]
    sums: tuple[str, ...]  # summed columns
    ddl: str
    keys: str  # SQL of the key's values for row `{r}`
    adds: tuple[str, ...]  # what row `{r}` adds to `sums`

    def key_values(self, terms: Mapping[str, str], row: str) -> str:
        """SQL of the key's values for the row named `row`."""
        return for_row(self.keys, terms, row)

    def added(self, terms: Mapping[str, str], row: str) -> list[str]:
        """SQL of what the row named `row` adds to each of `sums`."""
        return [for_row(add, terms, row) for add in self.adds]


_FUNNEL_KEYS = (
    "{r}.pipeline, coalesce({r}.phase, ''), coalesce({r}.phase_kind, ''), "
    "{r}.reached_phases"
)
COUNTED = (
    Counted(
        FUNNEL_COUNTS,
        "deal_phases",
        ("pipeline", "phase", "phase_kind", "reached_phases"),
        ("deals",),
        "pipeline text NOT NULL, phase text NOT NULL, phase_kind text NOT NULL, "
        "reached_phases text NOT NULL, deals {bigint} NOT NULL",
        _FUNNEL_KEYS,
        ("1",),
    ),
    Counted(
        STAGE_COUNTS,
        "phase_intervals",
        ("pipeline", "phase", "open", "bucket"),
        ("intervals", "total_us"),
        "pipeline text NOT NULL, phase text NOT NULL, open integer NOT NULL, "
        "bucket {bigint} NOT NULL, intervals {bigint} NOT NULL, "
        "total_us {bigint} NOT NULL",
        "{r}.pipeline, {r}.phase, {open}, {bucket}",
        ("1", "{micros}"),
    ),
)


def for_row(template: str, terms: Mapping[str, str], row: str) -> str:
    """`template` of the row named `row`, with the store's `terms` of it."""
    own = {name: term.format(r=row) for name, term in terms.items()}
    return template.format(r=row, **own)


def micros_sum(terms: Mapping[str, str]) -> str:
    """SQL summing `duration_seconds` as whole microseconds, exactly (an integer)."""
    return f"sum({terms['micros'].replace('{r}.', '')})"


def upsert(counted: Counted, target: Composable) -> Composable:
    """ON CONFLICT that adds the new sums to the stored ones."""
    return SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(
        SQL(", ").join(map(Identifier, counted.key)),
        SQL(", ").join(
            SQL("{0} = {1}.{0} + excluded.{0}").format(Identifier(c), target)
            for c in counted.sums
        ),
    )
