"""PHASELOG_DATABASE_URL as a URL or as libpq's key=value settings."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.settings import Settings, eventsourcing_env

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

runner = CliRunner()


@pytest.fixture
def schema(postgres_dsn: str) -> Iterator[str]:
    """A schema of its own, dropped at the end."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def key_value(dsn: str, schema: str) -> str:
    """The test server's URL written as libpq's key=value settings."""
    url = urlsplit(dsn)
    settings = {
        "host": url.hostname,
        "port": url.port,
        "dbname": url.path.lstrip("/"),
        "user": url.username,
        "password": url.password,
        "schema": schema,
    }
    return " ".join(f"{k}={v}" for k, v in settings.items() if v)


def test_the_key_value_form_reaches_the_database_the_url_does(
    postgres_dsn: str, schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = urlsplit(postgres_dsn)
    query = urlencode([*parse_qsl(parts.query), ("schema", schema)])
    as_url = urlunsplit(parts._replace(query=query))
    as_pairs = key_value(postgres_dsn, schema)
    history = tmp_path / "history.ndjson"
    line = {
        "pipeline": "nl-tesoro",
        "contact_id": "ann",
        "type": "contact_captured",
        "occurred_at": "2024-03-04T09:00:00Z",
    }
    history.write_text(json.dumps(line) + "\n")
    monkeypatch.delenv("PHASELOG_PIPELINES_DIR", raising=False)

    monkeypatch.setenv("PHASELOG_DATABASE_URL", as_url)
    imported = runner.invoke(app, ["import", str(history)])
    monkeypatch.setenv("PHASELOG_DATABASE_URL", as_pairs)
    replayed = runner.invoke(
        app, ["replay", "--pipeline", "nl-tesoro", "--contact", "ann"]
    )

    assert imported.exit_code == 0, imported.output
    assert replayed.exit_code == 0, replayed.output
    assert "action contact_captured: - -> lead" in replayed.output


def test_both_forms_say_the_same_with_quotes_and_defaults() -> None:
    pairs = (
        "host = db.example port=6543 dbname='my db' user=me "
        r"password='p\'w 1' schema='the schema'"
    )
    url = "postgresql://me:p'w%201@db.example:6543/my%20db?schema=the+schema"

    assert eventsourcing_env(Settings(database_url=pairs)) == eventsourcing_env(
        Settings(database_url=url)
    )
    assert eventsourcing_env(Settings(database_url="dbname=x")) == eventsourcing_env(
        Settings(database_url="postgresql:///x")
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("mysql://me@db/x", "must be sqlite:///path, postgresql://"),
        ("phaselog.db", "or libpq's key=value settings (host=127.0.0.1 "),
        ("host=db colour=red", 'invalid connection option "colour"'),
        ("host='db", "unterminated quoted string"),
        ("host=db sslmode=require", "sslmode: not read from here, only host"),
    ],
)
def test_a_database_url_in_neither_form_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", value)

    result = runner.invoke(app, ["pipelines", "list"])

    assert result.exit_code == 1
    assert result.output.startswith("error: PHASELOG_DATABASE_URL: ")
    assert says in result.output
    assert len(result.output.splitlines()) == 1
