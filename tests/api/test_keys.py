"""Named keys: revoking, rotating PHASELOG_ADMIN_KEY, migrating an old key table,
short keys refused, and `phaselog keys ...` on each test database."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from psycopg.sql import SQL, Identifier
from pydantic import SecretStr
from typer.testing import CliRunner

from api.app import create_app
from api.bootstrap import open_tracker
from api.cli import app as cli
from bench.server import free_port
from storage.api_keys import KeyProblem, KeyStore, hash_key
from tests.api.conftest import ADMIN_KEY, bearer
from tests.helpers.processes import PHASELOG

if TYPE_CHECKING:
    from api.settings import Settings
    from domain.service import PhaseTracker

runner = CliRunner()

# The key table as phaselog kept it before keys had names (git show eb759a8:
# projections/keys.py), for each database.
OLD_TABLE_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS {0} (key_hash text PRIMARY KEY, role text NOT NULL, "
    "label text, created_at timestamptz NOT NULL)"
)
OLD_TABLE_SQLITE = (
    "CREATE TABLE IF NOT EXISTS api_keys (key_hash TEXT PRIMARY KEY, "
    "role TEXT NOT NULL, label TEXT, created_at TEXT NOT NULL)"
)
ALICE = "plk_alice-before-names-000"
UNNAMED = "plk_auditor-before-names-0"
KEY_A = "plk_rotated-out-admin-key-A"
KEY_B = "plk_rotated-in-admin-key-B"


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)
    monkeypatch.delenv("PHASELOG_ADMIN_KEY", raising=False)


def old_key_table(settings: Settings, rows: list[tuple[str, str, str | None]]) -> None:
    """The old key table holding `rows` (key, role, label), oldest first."""
    tracker = open_tracker(settings)
    start = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)
    stored = [
        (hash_key(key), role, label, start + dt.timedelta(minutes=n))
        for n, (key, role, label) in enumerate(rows)
    ]
    try:
        datastore = tracker.store.recorder.datastore  # type: ignore[attr-defined]
        if settings.is_postgres:
            table = SQL("{0}.api_keys").format(Identifier(datastore.schema))
            with datastore.transaction(commit=True) as curs:
                curs.execute(SQL(OLD_TABLE_POSTGRES).format(table))
                insert = SQL("INSERT INTO {0} VALUES (%s, %s, %s, %s)").format(table)
                curs.executemany(insert, stored)
            return
        with datastore.transaction(commit=True) as c:
            c.execute(OLD_TABLE_SQLITE)
            c.executemany(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?)",
                [(*row[:3], row[3].isoformat()) for row in stored],
            )
    finally:
        tracker.close()


def keys_list() -> list[str]:
    """The lines of `phaselog keys list`."""
    result = runner.invoke(cli, ["keys", "list"])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def line_of(key: str, lines: list[str]) -> str:
    """The one line showing `key` (by its id)."""
    (line,) = [line for line in lines if hash_key(key)[:12] in line]
    return line


def create(*options: str) -> str:
    result = runner.invoke(cli, ["keys", "create", *options])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def test_a_key_table_of_the_old_layout_keeps_its_keys_and_names_them(
    api_settings: Settings,
) -> None:
    old_key_table(api_settings, [(ALICE, "agent", "alice"), (UNNAMED, "auditor", None)])

    with TestClient(create_app(api_settings)) as client:
        deals = client.get("/v1/deals", headers=bearer(ALICE))
        funnel = client.get(
            "/v1/reports/funnel?pipeline=nl-tesoro", headers=bearer(UNNAMED)
        )

    assert (deals.status_code, funnel.status_code) == (200, 200)
    listed = keys_list()
    assert "alice" in line_of(ALICE, listed)
    assert f"auditor-{hash_key(UNNAMED)[:6]}" in line_of(UNNAMED, listed)
    assert "active" in line_of(ALICE, listed)


def test_an_old_table_holding_rotated_admin_keys_keeps_only_the_configured_one(
    api_settings: Settings,
) -> None:
    # Before, a rotated PHASELOG_ADMIN_KEY left its old key stored, and working.
    old_key_table(
        api_settings,
        [
            (KEY_A, "admin", "PHASELOG_ADMIN_KEY"),
            (ADMIN_KEY, "admin", "PHASELOG_ADMIN_KEY"),
        ],
    )

    with TestClient(create_app(api_settings)) as client:
        old = client.get("/v1/pipelines", headers=bearer(KEY_A))
        current = client.get("/v1/pipelines", headers=bearer(ADMIN_KEY))

    assert (old.status_code, old.json()["detail"]) == (401, "revoked API key")
    assert current.status_code == 200
    listed = keys_list()
    assert "PHASELOG_ADMIN_KEY " in line_of(ADMIN_KEY, listed)
    assert "revoked" in line_of(KEY_A, listed)


@pytest.mark.process
def test_processes_migrating_an_old_table_at_once_all_come_up(
    settings: Settings,
) -> None:
    """The CLI opens the key store without the server's startup lock."""
    old_key_table(settings, [(ALICE, "agent", "alice")])
    # Opened one by one: only the key store's migration runs at once.
    trackers = [open_tracker(settings) for _ in range(4)]

    def start(tracker: PhaseTracker) -> str | None:
        return KeyStore(tracker).role_of(ALICE)

    try:
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(start, trackers)) == ["agent"] * 4
    finally:
        for tracker in trackers:
            tracker.close()


def test_rotating_the_admin_key_retires_the_key_it_replaced(
    api_settings: Settings,
) -> None:
    with TestClient(create_app(_admin(api_settings, KEY_A))) as client:
        assert client.get("/v1/pipelines", headers=bearer(KEY_A)).status_code == 200

    with TestClient(create_app(_admin(api_settings, KEY_B))) as client:
        old = client.get("/v1/pipelines", headers=bearer(KEY_A))
        new = client.get("/v1/pipelines", headers=bearer(KEY_B))

    assert (old.status_code, old.json()["detail"]) == (401, "revoked API key")
    assert new.status_code == 200
    listed = keys_list()
    assert "revoked" in line_of(KEY_A, listed)
    assert "PHASELOG_ADMIN_KEY" in line_of(KEY_B, listed)
    assert "active" in line_of(KEY_B, listed)


def test_a_revoked_admin_key_left_in_the_setting_stops_the_start(
    api_settings: Settings,
) -> None:
    with TestClient(create_app(api_settings)):
        pass
    assert runner.invoke(cli, ["keys", "revoke", "PHASELOG_ADMIN_KEY"]).exit_code == 0

    with (
        pytest.raises(KeyProblem, match="PHASELOG_ADMIN_KEY is a revoked key"),
        TestClient(create_app(api_settings)),
    ):
        pass


@pytest.mark.process
def test_serve_refuses_a_short_admin_key_in_one_line_naming_the_setting(
    settings: Settings,
) -> None:
    env = {**os.environ, "PHASELOG_ADMIN_KEY": "x"}
    command = [str(PHASELOG), "serve", "--port", str(free_port())]
    # A timeout, not a wait: were the key accepted, serve would run on.
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: PHASELOG_ADMIN_KEY: must be 16 characters or more (got 1)"
    ]


def test_the_key_store_refuses_a_short_key(client: TestClient) -> None:
    store: KeyStore = client.app.state.keys  # type: ignore[attr-defined]

    with pytest.raises(KeyProblem, match="16 characters"):
        store.add("fifteen-chars-0", "agent")
    store.add("sixteen-chars-00", "agent")


def test_keys_revoke_takes_a_name_or_an_id_and_names_an_unknown_one(
    api_settings: Settings,
) -> None:
    alice = create("--role", "agent", "--name", "alice")
    bob = create("--role", "manager")
    bob_id = hash_key(bob)[:12]

    by_name = runner.invoke(cli, ["keys", "revoke", "alice"])
    by_id = runner.invoke(cli, ["keys", "revoke", bob_id])
    again = runner.invoke(cli, ["keys", "revoke", "alice"])
    unknown = runner.invoke(cli, ["keys", "revoke", "nobody"])

    assert (by_name.exit_code, by_id.exit_code) == (0, 0), by_name.output
    assert f"revoked key {bob_id} named manager-{bob_id[:6]}" in by_id.stdout
    for refused in (again, unknown):
        assert refused.exit_code == 1
        assert len(refused.stderr.strip().splitlines()) == 1
    assert "no active key has the name or id 'nobody'" in unknown.stderr
    listed = keys_list()
    assert "revoked" in line_of(alice, listed)
    assert "revoked" in line_of(bob, listed)
    with TestClient(create_app(api_settings)) as client:
        refused = client.get("/v1/deals", headers=bearer(alice))
    assert (refused.status_code, refused.json()["detail"]) == (401, "revoked API key")


def test_a_name_is_unique_among_active_keys_and_free_again_once_revoked() -> None:
    first = create("--role", "agent", "--name", "carol")
    taken = runner.invoke(cli, ["keys", "create", "--role", "agent", "--name", "carol"])
    reserved = runner.invoke(
        cli, ["keys", "create", "--role", "admin", "--name", "PHASELOG_ADMIN_KEY"]
    )
    assert runner.invoke(cli, ["keys", "revoke", "carol"]).exit_code == 0
    second = create("--role", "agent", "--name", "carol")

    assert taken.exit_code == 1
    assert taken.stderr.strip() == "error: an active key is named 'carol' already"
    assert reserved.exit_code == 1
    listed = keys_list()
    assert "revoked" in line_of(first, listed)
    assert "active" in line_of(second, listed)


def test_the_old_label_option_still_names_a_key() -> None:
    key = create("--role", "auditor", "--label", "dave")

    assert "dave" in line_of(key, keys_list())


def test_keys_list_shows_each_key_on_one_line_of_80_columns(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    used = create("--role", "manager", "--name", "sales-manager-ams")
    unused = create("--role", "agent")
    revoked = create("--role", "auditor", "--name", "external-auditor-2024")
    assert client.get("/v1/deals", headers=bearer(used)).status_code == 200
    assert (
        runner.invoke(cli, ["keys", "revoke", "external-auditor-2024"]).exit_code == 0
    )

    listed = keys_list()

    assert max(map(len, listed)) <= 80
    row = line_of(used, listed)
    assert "sales-manager-ams" in row
    assert "never" not in row
    assert "active" in row
    assert "never" in line_of(unused, listed)
    assert re.search(r"revoked \d{4}-\d\d-\d\d", line_of(revoked, listed))


def test_a_key_is_noted_as_used_at_most_once_a_minute(
    client: TestClient,
) -> None:
    now = [1000.0]
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    store = KeyStore(tracker, clock=lambda: now[0])
    key = store.create("agent")

    def last_used() -> dt.datetime | None:
        (stored,) = [k for k in store.rows() if k.key_id == hash_key(key)[:12]]
        return stored.last_used_at

    # Step: first sight of the key: it is read and noted as used.
    assert last_used() is None
    store.identify(key)
    first = last_used()
    assert first is not None

    # Step: read again after its cache life, within the minute: no write.
    now[0] += 30
    assert store.remembered(key) is None
    store.identify(key)
    assert last_used() == first

    # Step: a minute on, the next read notes it again.
    now[0] += 31
    store.identify(key)
    later = last_used()
    assert later is not None and later > first


def _admin(settings: Settings, key: str) -> Settings:
    return settings.model_copy(update={"admin_key": SecretStr(key)})
