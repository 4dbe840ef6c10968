"""The `phaselog` command line on each test database."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from psycopg.sql import SQL
from typer.testing import CliRunner

from api.bootstrap import open_tracker
from api.cli import app
from projections.aggregates import STAGE_COUNTS
from projections.runner import Projector
from projections.schema import DEAL_PHASES
from storage.api_keys import KeyStore
from storage.definitions import PRESETS_DIR

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from api.settings import Settings
    from domain.service import PhaseTracker

runner = CliRunner()


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)


@pytest.fixture
def service(settings: Settings) -> Iterator[PhaseTracker]:
    tracker = open_tracker(settings)
    yield tracker
    tracker.close()


def test_pipelines_validate_names_the_file_and_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = (PRESETS_DIR / "nl-tesoro.yaml").read_text()
    broken.write_text(text.replace("kind: won", "kind: victorious", 1))

    good = runner.invoke(
        app, ["pipelines", "validate", str(PRESETS_DIR / "fr-sale.yaml")]
    )
    bad = runner.invoke(app, ["pipelines", "validate", str(broken)])

    assert good.exit_code == 0, good.output
    assert bad.exit_code == 1
    assert str(broken) in bad.output
    assert "kind" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_pipelines_list_and_show(service: PhaseTracker) -> None:
    listed = runner.invoke(app, ["pipelines", "list"])
    shown = runner.invoke(app, ["pipelines", "show", "nl-tesoro"])
    unknown = runner.invoke(app, ["pipelines", "show", "nope"])

    assert listed.exit_code == 0
    assert "hubspot-default" in listed.output
    assert "contact_captured" in shown.output
    assert unknown.exit_code == 1
    assert "unknown pipeline 'nope'" in unknown.output


def test_keys_create_prints_the_key_alone_on_its_last_line(
    service: PhaseTracker,
) -> None:
    result = runner.invoke(app, ["keys", "create", "--role", "auditor"])
    wrong = runner.invoke(app, ["keys", "create", "--role", "boss"])

    assert result.exit_code == 0
    key = result.stdout.strip().splitlines()[-1]
    assert KeyStore(service).role_of(key) == "auditor"
    assert wrong.exit_code != 0


def test_import_keeps_a_deal_with_a_bad_line_out_and_says_why(
    tmp_path: Path, service: PhaseTracker
) -> None:
    lines = [
        {
            "pipeline": "nl-tesoro",
            "contact_id": "ann",
            "type": "contact_captured",
            "occurred_at": "2024-03-04T09:00:00Z",
            "action_id": "i-1",
        },
        {
            "pipeline": "nl-tesoro",
            "contact_id": "bob",
            "type": "contact_captured",
            "occurred_at": "2024-03-04T09:00:00Z",
            "action_id": "i-2",
        },
        {
            "pipeline": "nl-tesoro",
            "contact_id": "bob",
            "type": "deal_lost",
            "occurred_at": "2024-03-05T09:00:00Z",
            "action_id": "i-3",
        },
    ]
    path = tmp_path / "history.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{oops\n")

    result = runner.invoke(app, ["import", str(path)])

    assert result.exit_code == 1
    assert "imported 1 actions" in result.output
    assert "fields.lost_reason" in result.output
    assert "not JSON" in result.output
    assert service.store.find_action("i-1") is not None
    assert service.store.find_action("i-2") is None


def test_import_reads_csv_with_field_columns(
    tmp_path: Path, service: PhaseTracker
) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "pipeline,contact_id,type,occurred_at,fields.lost_reason\n"
        "nl-tesoro,ann,contact_captured,2024-03-04T09:00:00Z,\n"
        "nl-tesoro,ann,deal_lost,2024-03-05T09:00:00Z,price\n"
    )

    result = runner.invoke(app, ["import", str(path)])

    assert result.exit_code == 0, result.output
    assert "imported 2 actions" in result.output


def test_import_reads_a_spreadsheets_csv(tmp_path: Path, service: PhaseTracker) -> None:
    """A byte-order mark, CRLF line ends and a note over two lines in one cell."""
    path = tmp_path / "export.csv"
    rows = [
        "pipeline,contact_id,type,occurred_at,note,action_id",
        "nl-tesoro,ann,contact_captured,2024-03-04T09:00:00Z,,s-1",
        "nl-tesoro,ann,budget_confirmed,2024-03-05T09:00:00Z,"
        '"called back;\r\nwants a visit",s-2',
        "nl-tesoro,bob,contact_captured,2024-03-06T09:00:00Z,,s-3",
    ]
    path.write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode())

    result = runner.invoke(app, ["import", str(path)])

    assert result.exit_code == 0, result.output
    assert "imported 3 actions" in result.output
    assert all(service.store.find_action(f"s-{n}") for n in (1, 2, 3))


def test_import_of_a_file_not_in_utf8_names_the_line_and_stores_nothing(
    tmp_path: Path, service: PhaseTracker
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        b"pipeline,contact_id,type,note,action_id\n"
        b"nl-tesoro,ann,contact_captured,,l-1\n"
        b"nl-tesoro,bob,contact_captured,caf\xe9,l-2\n"  # Latin-1
    )

    result = runner.invoke(app, ["import", str(path)])

    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: export.csv: line 3 is not UTF-8 (byte 35: invalid continuation "
        "byte); save the file as UTF-8"
    ]
    assert service.store.find_action("l-1") is None


def test_import_keeps_a_line_separator_inside_a_json_string(
    tmp_path: Path, service: PhaseTracker
) -> None:
    """Only a newline ends an NDJSON record, not U+2028 inside a note."""
    line = {
        "pipeline": "nl-tesoro",
        "contact_id": "ann",
        "type": "contact_captured",
        "occurred_at": "2024-03-04T09:00:00Z",
        "note": "first\u2028second",
        "action_id": "u-1",
    }
    path = tmp_path / "history.ndjson"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")

    result = runner.invoke(app, ["import", str(path)])

    assert result.exit_code == 0, result.output
    assert "imported 1 actions" in result.output


def test_demo_then_replay_then_verify(service: PhaseTracker) -> None:
    demo = runner.invoke(app, ["demo", "--actions", "60", "--seed", "3"])
    again = runner.invoke(app, ["demo", "--actions", "60", "--seed", "3"])
    projector = Projector(service)
    projector.catch_up()
    page = projector.reports.deals(now=service.clock(), limit=1)
    deal_id = str(page.rows[0].deal_id)

    replayed = runner.invoke(app, ["replay", deal_id])
    early = runner.invoke(app, ["replay", deal_id, "--as-of", "2000-01-01"])
    verified = runner.invoke(app, ["verify"])

    assert demo.exit_code == 0, demo.output
    assert "60 actions stored" in demo.output
    assert "demo: already loaded (60 actions" in again.output
    assert replayed.exit_code == 0
    assert f"phase: {page.rows[0].phase}" in replayed.output
    assert "phase: -" in early.output
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize(
    ("table_name", "change", "says"),
    [
        (DEAL_PHASES, "phase = 'tampered'", "differences"),
        (STAGE_COUNTS, "intervals = intervals + 1", "stage_counts"),
    ],
    ids=["row", "count"],
)
def test_verify_fails_on_a_row_or_count_altered_by_hand(
    service: PhaseTracker, table_name: str, change: str, says: str
) -> None:
    runner.invoke(app, ["demo", "--actions", "30"])
    projector = Projector(service)
    projector.catch_up()
    table = projector.schema.table(table_name, projector.status().generation)
    with projector.store.write() as tx:
        tx.execute(SQL("UPDATE {} SET " + change).format(table))

    result = runner.invoke(app, ["verify"])

    assert result.exit_code == 1
    assert says in result.output


def test_rebuild_and_errors_are_one_line(service: PhaseTracker) -> None:
    rebuilt = runner.invoke(app, ["rebuild"])
    missing = runner.invoke(app, ["replay", "8a1c4a52-5f58-4b8e-9a38-4f6b1c2c2b0e"])

    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt: generation" in rebuilt.output
    assert missing.exit_code == 1
    assert missing.output.strip().startswith("error: no deal")
