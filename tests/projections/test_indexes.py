"""The read models' indexes: each filter finds its own (a partial index only where
the filter implies its predicate), and a serving generation follows the list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pytest
from psycopg.sql import SQL, Identifier, Literal

from domain.commands import LogAction
from projections.runner import Projector
from projections.schema import DEAL_PHASES, PHASE_INTERVALS, physical
from tests.projections.conftest import SKIP, day, log

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from psycopg.sql import Composable

    from domain.service import PhaseTracker
    from projections.dialect import Store
    from projections.postgres_store import PostgresStore


def _plans(store: Store, monkeypatch: pytest.MonkeyPatch, ask: Any) -> list[str]:
    """The plans of the statements `ask()` sends through the store's `query`,
    the one way the reports read.

    PostgreSQL plans as for a prepared statement run many times (a generic plan:
    the predicate must follow from the filter without its values), and with
    sequential scans off, since a test's few rows would be read whole anyway.
    """
    asked: list[tuple[Composable, list[Any]]] = []
    real = type(store).query

    def spy(self: Store, query: Composable, params: Sequence[Any] = ()) -> Any:
        asked.append((query, [self.bind(p) for p in params]))
        return real(self, query, params)

    monkeypatch.setattr(type(store), "query", spy)
    ask()
    plans = []
    for query, params in asked:
        with store.snapshot() as tx:  # a transaction: SET LOCAL lasts its length
            if store.postgres:
                tx.execute(SQL("SET LOCAL enable_seqscan = off"))
                tx.execute(SQL("SET LOCAL plan_cache_mode = force_generic_plan"))
                first, *rest = query.as_string(None).split("%s")
                text = first + "".join(f"${n}{part}" for n, part in enumerate(rest, 1))
                tx.execute(SQL(f"PREPARE phaselog_plan AS {text}"))  # type: ignore[arg-type]
                values = SQL(", ").join(map(Literal, params))
                tx.execute(SQL("EXPLAIN EXECUTE phaselog_plan({})").format(values))
                plan = " ".join(str(cell) for row in tx.fetchall() for cell in row)
                tx.execute(SQL("DEALLOCATE phaselog_plan"))
            else:
                tx.execute(SQL("EXPLAIN QUERY PLAN ") + query, params)
                plan = " ".join(str(cell) for row in tx.fetchall() for cell in row)
            plans.append(plan)
    return plans


OWNERS = ("ann", "bob", "cat", "dan")


@pytest.fixture
def office(tracker: PhaseTracker) -> Iterator[Projector]:
    """An office's deals, analyzed on PostgreSQL as a real one would be.

    Without statistics, a table of a few pages is one row to PostgreSQL
    whatever the filter, and any index that starts with the pipeline will do.
    """
    commands = [
        LogAction(
            pipeline="nl-tesoro",
            contact_id=f"c{n}",
            type="contact_captured" if n % 3 else "viewing",
            occurred_at=day(n % 40),
            actor=OWNERS[n % len(OWNERS)],
            fields={} if n % 3 else SKIP,
        )
        for n in range(120)
    ]
    commands.append(
        LogAction(
            pipeline="hubspot-default",
            contact_id="h",
            type="meeting_booked",
            occurred_at=day(2),
        )
    )
    tracker.log_actions(commands)
    projector = Projector(tracker, page_size=500, poll_interval=0.05)
    projector.catch_up()
    if projector.store.postgres:
        with projector.store.write() as tx:
            for table in (DEAL_PHASES, PHASE_INTERVALS):
                tx.execute(
                    SQL("ANALYZE {}").format(projector.store.table(physical(table, 1)))
                )
    yield projector
    projector.stop()


@pytest.mark.parametrize(
    ("index", "ask"),
    [
        (
            "stale_pages",
            lambda p: p.reports.stale(
                p.tracker.pipeline("nl-tesoro"), now=day(400), limit=1
            ),
        ),
        ("expiring", lambda p: p.reports.expiring(day(400))),
        ("object_set", lambda p: p.reports.deals(object_id="house-1", now=day(9))),
        (
            "owner",
            lambda p: p.reports.funnel(p.tracker.pipeline("nl-tesoro"), owner="ann"),
        ),
        ("lost", lambda p: p.reports.lost_reasons(p.tracker.pipeline("nl-tesoro"))),
        (
            "opened",
            lambda p: p.reports.funnel(
                p.tracker.pipeline("nl-tesoro"), since=day(1), until=day(30)
            ),
        ),
    ],
)
def test_each_filter_reads_its_index(
    office: Projector, monkeypatch: pytest.MonkeyPatch, index: str, ask: Any
) -> None:
    plans = _plans(office.store, monkeypatch, lambda: ask(office))

    named, priced = (f"{physical(DEAL_PHASES, 1)}_{i}" for i in (index, "amounts"))
    assert any(named in plan for plan in plans), plans
    # A funnel's amounts read the priced deals alone (none here) by their index.
    assert all(named in plan or priced in plan for plan in plans), plans


@pytest.mark.parametrize("since", [None, day(1)])
def test_time_in_stage_by_owner_reads_the_owners_deals_and_their_intervals(
    tracker: PhaseTracker,
    office: Projector,
    monkeypatch: pytest.MonkeyPatch,
    since: Any,
) -> None:
    tesoro = tracker.pipeline("nl-tesoro")

    plans = _plans(
        office.store,
        monkeypatch,
        lambda: office.reports.time_in_stage(
            tesoro, now=day(9), since=since, owner="ann"
        ),
    )

    (plan,) = plans
    assert f"{physical(DEAL_PHASES, 1)}_owner" in plan
    assert f"{physical(PHASE_INTERVALS, 1)}_pk" in plan


# PostgreSQL reads a period's rows by a bitmap of any of the pipeline's indexes.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_time_in_stage_for_a_period_reads_each_phases_entries_in_it(
    tracker: PhaseTracker, projector: Projector, monkeypatch: pytest.MonkeyPatch
) -> None:
    log(tracker, "c1", "contact_captured", 0)
    log(tracker, "c1", "viewing", 2, **SKIP)
    projector.catch_up()
    tesoro = tracker.pipeline("nl-tesoro")

    plans = _plans(
        projector.store,
        monkeypatch,
        lambda: projector.reports.time_in_stage(tesoro, now=day(9), since=day(1)),
    )

    (plan,) = plans
    assert f"COVERING INDEX {physical(PHASE_INTERVALS, 1)}_entries" in plan


def _indexes(store: Store, table: str) -> set[str]:
    with store.read() as tx:
        if store.postgres:
            tx.execute(
                SQL(
                    "SELECT indexname FROM pg_indexes "
                    "WHERE schemaname = %s AND tablename = %s"
                ),
                [cast("PostgresStore", store).schema, table],
            )
        else:
            tx.execute(
                SQL("SELECT name FROM sqlite_master WHERE tbl_name = %s"), [table]
            )
        return {name for (name,) in tx.fetchall()}


def test_a_serving_generation_gets_new_indexes_and_loses_retired_ones(
    tracker: PhaseTracker, projector: Projector
) -> None:
    """An index the list no longer names (here the old `funnel` one) goes at the
    next start, and one it names anew comes, on the generation already serving."""
    log(tracker, "c1", "contact_captured", 0)
    projector.catch_up()
    store, table = projector.store, physical(DEAL_PHASES, 1)
    expected = _indexes(store, table)
    with store.write() as tx:
        tx.execute(SQL("DROP INDEX {}").format(store.table(f"{table}_stale_pages")))
        tx.execute(
            SQL("CREATE INDEX {} ON {} (pipeline, phase)").format(
                Identifier(f"{table}_funnel"), store.table(table)
            )
        )
        tx.execute(  # not ours: left alone
            SQL("CREATE INDEX {} ON {} (owner)").format(
                Identifier("by_hand_owner"), store.table(table)
            )
        )

    Projector(tracker)  # what a server does as it starts

    assert _indexes(store, table) == expected | {"by_hand_owner"}
    assert f"{table}_stale_pages" in expected
