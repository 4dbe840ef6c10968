"""`phaselog audit verify`: the log proved against what was recorded with it.

Every kind of tampering is found and named by position and deal; an intact log
verifies; a rebuild of the read models does not make a forged log pass; on
PostgreSQL the log's tables refuse UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
import rfc8785
from eventsourcing.persistence import ProgrammingError
from psycopg.sql import SQL, Identifier
from typer.testing import CliRunner

from api.cli import app
from storage.eventstore import event_store
from storage.ledger import GENESIS, LEAVES, leaf_input, leaves_of
from tests.helpers.tampering import tamper

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi.testclient import TestClient

    from api.settings import Settings
    from domain.service import PhaseTracker
    from storage.ledger import Event

runner = CliRunner()


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)


def tracker_of(client: TestClient) -> PhaseTracker:
    return client.app.state.tracker  # type: ignore[attr-defined,no-any-return]


def history(client: TestClient) -> list[Event]:
    """Two deals' history through the API; the log's events, in order."""
    for contact in ("ann", "bob"):
        sent = {"pipeline": "nl-tesoro", "contact_id": contact}
        for kind in ("contact_captured", "budget_confirmed", "viewing"):
            body = {**sent, "type": kind, "note": f"{kind} of {contact}"}
            assert client.post("/v1/actions", json=body).status_code == 201
    ledger = event_store(tracker_of(client)).keys.ledger
    events, _ = ledger.ledger_window(0, ledger.ledger_bounds())
    return events


def action_events(events: list[Event]) -> list[Event]:
    return [e for e in events if e.topic.endswith("ActionLogged")]


def audit() -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify"])
    return result.exit_code, " ".join(result.output.split())


def test_an_intact_log_verifies_and_its_leaves_are_the_documented_ones(
    client: TestClient,
) -> None:
    events = history(client)
    ledger = event_store(tracker_of(client)).keys.ledger
    _, stored = ledger.ledger_window(0, ledger.ledger_bounds())

    code, said = audit()

    assert code == 0, said
    assert said.startswith(f"log intact: {len(events)} events, chain head ")
    # The same bytes whichever database computed them (SQL on PostgreSQL).
    assert stored == leaves_of(events, GENESIS)
    for event in events:
        content = {
            "deal": str(event.deal_id),
            "position": event.position,
            "state": base64.b64encode(event.state).decode(),
            "topic": event.topic,
            "version": event.version,
        }
        assert leaf_input(*event) == rfc8785.dumps(content)


def _edited(event: Event, change: Callable[[dict[str, Any]], None]) -> bytes:
    state = json.loads(event.state)
    change(state)
    return json.dumps(state).encode()


def test_an_edited_note_is_named_by_position_and_deal(client: TestClient) -> None:
    target = action_events(history(client))[2]
    forged = _edited(target, lambda s: s.update(note="nothing happened"))
    tamper(
        tracker_of(client),
        "UPDATE {events} SET state = ? WHERE {position} = ?",
        (forged, target.position),
    )

    code, said = audit()

    assert code == 1
    assert f"position {target.position}, deal {target.deal_id}" in said
    assert "its content differs from what was recorded" in said


def test_a_changed_type_stays_found_after_a_rebuild(client: TestClient) -> None:
    target = action_events(history(client))[1]
    forged = _edited(target, lambda s: s.update(type="contract_signed"))
    tamper(
        tracker_of(client),
        "UPDATE {events} SET state = ? WHERE {position} = ?",
        (forged, target.position),
    )

    assert runner.invoke(app, ["rebuild"]).exit_code == 0
    code, said = audit()

    assert code == 1
    assert f"position {target.position}, deal {target.deal_id}" in said


def test_a_deleted_event_is_named(client: TestClient) -> None:
    target = action_events(history(client))[3]
    tamper(
        tracker_of(client),
        "DELETE FROM {events} WHERE {position} = ?",
        (target.position,),
    )

    code, said = audit()

    assert code == 1
    assert f"position {target.position}: an event recorded here is missing" in said


def test_an_inserted_event_is_named(client: TestClient) -> None:
    model = action_events(history(client))[0]
    tamper(
        tracker_of(client),
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "VALUES (?, ?, ?, ?)",
        (model.deal_id, 42, model.topic, model.state),
    )
    ledger = event_store(tracker_of(client)).keys.ledger
    high = ledger.ledger_bounds()

    code, said = audit()

    assert code == 1
    assert f"position {high}, deal {model.deal_id}: an event that was never" in said


def test_events_swapped_are_named_at_the_first(client: TestClient) -> None:
    first, second = action_events(history(client))[1:3]
    for event, state in ((first, second.state), (second, first.state)):
        tamper(
            tracker_of(client),
            "UPDATE {events} SET state = ? WHERE {position} = ?",
            (state, event.position),
        )

    code, said = audit()

    assert code == 1
    assert f"position {first.position}, deal {first.deal_id}" in said


def test_an_event_deleted_with_its_record_is_named_at_the_next(
    client: TestClient,
) -> None:
    events = history(client)
    target, following = events[3], events[4]
    for table in ("events", "leaves"):
        column = "{position}" if table == "events" else "position"
        tamper(
            tracker_of(client),
            f"DELETE FROM {{{table}}} WHERE {column} = ?",
            (target.position,),
        )

    code, said = audit()

    assert code == 1
    assert f"position {following.position}, deal {following.deal_id}" in said
    assert "the log before it differs" in said


def test_postgresql_refuses_to_change_the_log_and_sqlite_has_it_named(
    client: TestClient, settings: Settings
) -> None:
    events_logged = history(client)
    recorder: Any = tracker_of(client).store.recorder  # type: ignore[attr-defined]
    datastore = recorder.datastore
    if not settings.database_url.startswith("postgres"):
        # A file's owner can change it: nothing refuses, audit verify names it.
        with datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {recorder.events_table_name} WHERE rowid = 1")
        code, said = audit()
        assert code == 1
        assert f"position {events_logged[0].position}:" in said
        return
    events = Identifier(datastore.schema, recorder.events_table_name)
    leaves = Identifier(datastore.schema, LEAVES)
    statements = [
        SQL("UPDATE {} SET state = state").format(events),
        SQL("DELETE FROM {}").format(events),
        SQL("TRUNCATE {}").format(events),
        SQL("UPDATE {} SET leaf = leaf").format(leaves),
        SQL("DELETE FROM {}").format(leaves),
        SQL("TRUNCATE {}").format(leaves),
    ]
    for statement in statements:
        with (
            pytest.raises(ProgrammingError, match="append-only") as refused,
            datastore.get_connection() as conn,
        ):
            conn.execute(statement)
        assert isinstance(refused.value.__cause__, psycopg.errors.InsufficientPrivilege)

    assert audit()[0] == 0
