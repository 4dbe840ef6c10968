"""A database made by the previous release (stop 27, `8a53b3c`) opens, migrates
and keeps working.

The fixtures are that release's own work, dumped as SQL (`tests/fixtures/`):
`phaselog demo --actions 120`, a deal logged, voided and moved by hand through
its service (actor `ann.agent`), an API key, and `phaselog rebuild`. Made with:

    git worktree add /tmp/rel27 8a53b3c
    PYTHONPATH=/tmp/rel27 phaselog demo --actions 120   # on each database
    sqlite3 file .dump | gzip;  pg_dump -n release27 --no-owner --inserts | gzip
"""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.sql import SQL
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from domain.deal import deal_id_for
from projections.dialect import bare
from tests.api.conftest import bearer

if TYPE_CHECKING:
    from collections.abc import Iterator

    from api.settings import Settings

FIXTURES = Path(__file__).parent.parent / "fixtures"
OLD_DEAL = deal_id_for("nl-tesoro", "fixture-ann", None)


def load_release(database_url: str, postgres_dsn: str | None) -> None:
    if database_url.startswith("sqlite"):
        dump = gzip.decompress((FIXTURES / "release27.sqlite.sql.gz").read_bytes())
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as db:
            db.executescript(dump.decode())
        return
    assert postgres_dsn is not None
    schema = dict(parse_qsl(urlsplit(database_url).query))["schema"]
    dump = gzip.decompress((FIXTURES / "release27.postgres.sql.gz").read_bytes())
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(dump.decode().replace("release27", schema).encode())


@pytest.fixture
def old_client(
    request: pytest.FixtureRequest,
    api_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    url = api_settings.database_url
    dsn = None if url.startswith("sqlite") else request.getfixturevalue("postgres_dsn")
    load_release(url, dsn)
    monkeypatch.setenv("PHASELOG_DATABASE_URL", url)
    with TestClient(
        create_app(api_settings), headers=bearer("test-admin-key-0123")
    ) as client:
        yield client


def test_a_database_of_the_previous_release_migrates_and_proves_intact(
    old_client: TestClient,
) -> None:
    runner = CliRunner()

    audited = runner.invoke(app, ["audit", "verify"])

    assert audited.exit_code == 0, audited.output
    assert audited.output.startswith("log intact: ")
    timeline = old_client.get(f"/v1/deals/{OLD_DEAL}/timeline").json()
    assert timeline["phase"] == "viewing"
    first, voided, void, move = timeline["entries"]
    assert first["actor"] == "ann.agent"
    assert first["recorded_by"] == {"via": "unknown", "name": "unknown", "key_id": None}
    assert voided["voided"] and voided["voided_by"] == void["action_id"]
    assert move["kind"] == "move"


def test_an_old_database_takes_new_entries_and_its_log_stays_provable(
    old_client: TestClient,
) -> None:
    before = old_client.get("/v1/deals", params={"contact_id": "fixture-ann"}).json()
    sent = {"pipeline": "nl-tesoro", "contact_id": "fixture-ann", "type": "offer_made"}

    logged = old_client.post("/v1/actions", json=sent)
    lost = old_client.post(
        "/v1/actions",
        json={**sent, "type": "deal_lost", "fields": {"lost_reason": "price"}},
    )
    again = old_client.post("/v1/actions", json={**sent, "type": "contact_captured"})

    assert logged.status_code == 201, logged.text
    assert logged.json()["deal_id"] == str(OLD_DEAL)
    assert lost.json()["phase"] == "lost"
    assert again.json()["deal_id"] != str(OLD_DEAL)  # the next sales process
    assert [d["phase"] for d in before["data"]] == ["viewing"]
    audited = CliRunner().invoke(app, ["audit", "verify"])
    assert audited.exit_code == 0, audited.output


def test_migrations_are_recorded_once(
    old_client: TestClient, api_settings: Settings
) -> None:
    tracker = old_client.app.state.tracker  # type: ignore[attr-defined]
    schema = tracker.store.recorder.schema
    applied_first = schema.applied()

    with TestClient(create_app(api_settings)):  # a second process opens it
        pass

    assert applied_first == schema.applied() == {1, 2, 3}


def test_an_old_read_model_gains_the_amount_columns_each_of_its_type(
    old_client: TestClient,
) -> None:
    projector = old_client.app.state.projector  # type: ignore[attr-defined]
    store = projector.store
    generation = projector.status().generation
    table = bare(store.table(f"deal_phases_g{generation}"))
    sent = {"pipeline": "nl-tesoro", "contact_id": "fixture-ann", "type": "offer_made"}

    logged = old_client.post(
        "/v1/actions",
        json={**sent, "fields": {"amount": "350000.50", "currency": "EUR"}},
    ).json()
    [deal] = old_client.get(
        "/v1/deals",
        params={"contact_id": "fixture-ann", "after": logged["position"]},
    ).json()["data"]

    with store.read() as tx:  # the type as the database reports it
        if store.postgres:
            tx.execute(
                SQL(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s"
                ),
                [store.schema, table],
            )
        else:
            tx.execute(SQL("SELECT name, type FROM pragma_table_info(%s)"), [table])
        types = dict(tx.fetchall())
    assert types["amount"].lower() in ("real", "double precision")
    assert types["currency"].lower() == "text"
    assert (deal["amount"], deal["currency"]) == (350000.5, "EUR")
    verified = CliRunner().invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
