"""A generation's count tables (`aggregates`): made, filled from its rows, checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.sql import SQL, Identifier

from projections.aggregates import COUNTED
from projections.dialect import bare

if TYPE_CHECKING:
    from collections.abc import Callable

    from psycopg.sql import Composable

    from projections.aggregates import Counted
    from projections.dialect import Store, Tx


class CountTables:
    """Creates and fills a generation's count tables and makes their triggers."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, tx: Tx, table: Callable[[str], Composable]) -> None:
        """Count tables filled from the row tables, then the triggers.

        `table(name)` names a table of the generation. On PostgreSQL making a
        trigger locks its table against writes until the transaction ends, so no
        write falls between the fill and the trigger; SQLite has one writer.
        """
        for counted in COUNTED:
            target, source = table(counted.name), table(counted.source)
            ddl = SQL(counted.ddl).format(bigint=self.store.types["bigint"])
            tx.execute(SQL("CREATE TABLE {} ({})").format(target, ddl))
            tx.execute(
                SQL("CREATE UNIQUE INDEX {} ON {} ({})").format(
                    Identifier(f"{counted.name}_key_{bare(target)}"),
                    target,
                    SQL(", ").join(map(Identifier, counted.key)),
                )
            )
            tx.execute(
                SQL("INSERT INTO {} ").format(target) + self.grouped(counted, source)
            )
            self.store.create_count_triggers(tx, counted, source, target)

    def drop_triggers(self, tx: Tx, table: Callable[[str], Composable]) -> None:
        """What the triggers leave behind once the generation's tables are gone."""
        for counted in COUNTED:
            self.store.drop_count_triggers(tx, table(counted.name))

    def grouped(self, counted: Counted, source: Composable) -> Composable:
        """The counts of `source` computed afresh: key columns, then sums."""
        terms = self.store.count_terms
        sums = ", ".join(f"sum({add})" for add in counted.added(terms, "r"))
        return SQL("SELECT {}, {} FROM {} r GROUP BY {}").format(
            SQL(counted.key_values(terms, "r")),
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
