"""`phaselog pipelines ...` read what the database holds and register nothing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.bootstrap import open_tracker
from api.cli import app
from storage.definitions import load_presets
from tests.api.conftest import ADMIN_KEY, bearer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from api.settings import Settings
    from domain.service import PhaseTracker

pytestmark = pytest.mark.usefixtures("cli_database")
runner = CliRunner()
NARROW = {"COLUMNS": "80"}  # a terminal 80 columns wide

ACME = """\
id: acme-leads
label: {en: Acme leads}
phases:
  - {key: first_call_booked_with_the_decision_maker, label: {en: Call booked}}
  - {key: signed, label: {en: Signed}, kind: won}
actions:
  - key: call_booked
    label: {en: Call booked}
    to: first_call_booked_with_the_decision_maker
  - {key: signature, label: {en: Signature}, to: signed}
"""


@pytest.fixture
def service(settings: Settings) -> Iterator[PhaseTracker]:
    tracker = open_tracker(settings)
    yield tracker
    tracker.close()


def stored_versions(settings: Settings, pipeline_id: str) -> int:
    """How many versions the database holds, read by a tracker of its own."""
    tracker = open_tracker(settings, register=False)
    try:
        return len(tracker.pipeline_versions(pipeline_id))
    finally:
        tracker.close()


@pytest.fixture
def acme_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> Path:
    """acme-leads registered by a command run with PHASELOG_PIPELINES_DIR, a
    deal of it stored; the setting gone again. The folder, to change."""
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "acme-leads.yaml").write_text(ACME)
    line = {
        "pipeline": "acme-leads",
        "contact_id": "ann",
        "type": "call_booked",
        "occurred_at": "2024-03-04T09:00:00Z",
    }
    history = tmp_path / "history.ndjson"
    history.write_text(json.dumps(line) + "\n")
    monkeypatch.setenv("PHASELOG_PIPELINES_DIR", str(folder))
    imported = runner.invoke(app, ["import", str(history)])
    assert imported.exit_code == 0, imported.output
    monkeypatch.delenv("PHASELOG_PIPELINES_DIR")
    return folder


def test_a_custom_pipeline_is_listed_and_shown_without_its_folder(
    acme_registered: Path,
) -> None:
    listed = runner.invoke(app, ["pipelines", "list"])
    shown = runner.invoke(app, ["pipelines", "show", "acme-leads"])

    assert listed.exit_code == 0, listed.output
    assert "acme-leads" in listed.output
    assert all(preset in listed.output for preset in load_presets())
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("acme-leads v1 of 1: forward, skip allow")
    assert "first_call_booked_with_the_decision_maker" in shown.output


def test_show_on_a_changed_folder_adds_no_version(
    acme_registered: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    changed = ACME.replace("{en: Signed}", "{en: Signed at last}")
    (acme_registered / "acme-leads.yaml").write_text(changed)
    monkeypatch.setenv("PHASELOG_PIPELINES_DIR", str(acme_registered))

    shown = runner.invoke(app, ["pipelines", "show", "acme-leads"])
    listed = runner.invoke(app, ["pipelines", "list"])

    assert shown.exit_code == 0, shown.output
    assert "Signed at last" not in shown.output
    assert listed.exit_code == 0, listed.output
    assert stored_versions(settings, "acme-leads") == 1


def test_a_version_it_does_not_have_is_named_with_those_it_has(
    service: PhaseTracker, settings: Settings
) -> None:
    second = service.pipeline("fr-sale").model_copy(update={"skip_policy": "forbid"})
    service.register_pipelines([second])

    missing = runner.invoke(app, ["pipelines", "show", "fr-sale", "--version", "9"])
    first = runner.invoke(app, ["pipelines", "show", "fr-sale", "--version", "1"])
    latest = runner.invoke(app, ["pipelines", "show", "fr-sale"])

    assert missing.exit_code == 1
    assert missing.output == (
        "error: pipeline 'fr-sale' has no version 9; it has versions 1 to 2\n"
    )
    assert first.output.startswith("fr-sale v1 of 2: forward, skip allow")
    assert latest.output.startswith("fr-sale v2 of 2: forward, skip forbid")


def test_an_empty_database_says_how_pipelines_get_there() -> None:
    listed = runner.invoke(app, ["pipelines", "list"])
    shown = runner.invoke(app, ["pipelines", "show", "fr-sale"])

    assert listed.exit_code == 0
    assert listed.output.startswith("no pipeline registered yet: `phaselog demo`")
    assert shown.exit_code == 1
    assert shown.output.startswith("error: unknown pipeline 'fr-sale'; no pipeline")


def test_an_unknown_pipeline_is_named_with_those_the_database_holds(
    service: PhaseTracker,
) -> None:
    unknown = runner.invoke(app, ["pipelines", "show", "fr-sales"])

    assert unknown.exit_code == 1
    assert unknown.output.startswith("error: unknown pipeline 'fr-sales'; this ")
    assert "de-deal-phasen, de-upsell, es-leads" in unknown.output


def test_show_at_80_columns_prints_every_phase_and_action_key_whole(
    service: PhaseTracker,
) -> None:
    for pipeline in service.pipelines():
        shown = runner.invoke(app, ["pipelines", "show", pipeline.id], env=NARROW)

        assert shown.exit_code == 0, shown.output
        words = set(shown.output.split())
        assert {p.key for p in pipeline.phases} <= words
        leading = {a.key for a in pipeline.actions if any(r.to for r in a.rules)}
        assert leading <= words
        assert all(len(line) <= 80 for line in shown.output.splitlines())


def test_list_at_80_columns_prints_every_id_whole(acme_registered: Path) -> None:
    listed = runner.invoke(app, ["pipelines", "list"], env=NARROW)

    assert {"acme-leads", *load_presets()} <= set(listed.output.split())


def test_validate_prints_only_the_real_errors_with_their_paths(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        ACME.replace("{key: signed,", "{key: Signed,").replace(
            "{key: signature,", "{key: signature, colour: red,"
        )
    )
    wholly = tmp_path / "wholly.yaml"  # every phase and every action wrong
    wholly.write_text(
        "id: x\nlabel: {en: X}\n"
        "phases:\n  - {key: A, label: {en: A}}\n"
        "actions:\n  - {key: a, label: {en: A}, to: b, colour: red}\n"
    )

    some = runner.invoke(app, ["pipelines", "validate", str(broken)])
    every = runner.invoke(app, ["pipelines", "validate", str(wholly)])

    assert some.exit_code == every.exit_code == 1
    assert some.output == (
        f"error: {broken}: phases[1] (Signed).key: String should match pattern "
        "'^[a-z][a-z0-9_-]*$'; actions[1] (signature).colour: Extra inputs are "
        "not permitted\n"
    )
    assert every.output == (
        f"error: {wholly}: phases[0] (A).key: String should match pattern "
        "'^[a-z][a-z0-9_-]*$'; actions[0] (a).colour: Extra inputs are not "
        "permitted\n"
    )


def test_the_api_lists_what_the_database_holds_not_only_what_it_registered(
    tmp_path: Path, api_settings: Settings
) -> None:
    """acme-leads registered by another process, no deal of it yet: a server
    started without the folder lists (and shows) it too."""
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "acme-leads.yaml").write_text(ACME)
    elsewhere = api_settings.model_copy(update={"pipelines_dir": folder})
    open_tracker(elsewhere).close()  # registers it, stores nothing else

    with TestClient(create_app(api_settings), headers=bearer(ADMIN_KEY)) as client:
        listed = client.get("/v1/pipelines").json()["data"]
        shown = client.get("/v1/pipelines/acme-leads")

    ids = [p["id"] for p in listed]
    assert "acme-leads" in ids
    assert set(load_presets()) <= set(ids)
    assert ids == sorted(ids)
    assert shown.status_code == 200
