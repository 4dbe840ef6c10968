"""An event the read models cannot be made of never stalls them silently.

The door refuses what a database cannot store, but a log may hold such an
event from before (tests/helpers/legacy.py writes past the door). A value a
read model cannot hold is shown with U+FFFD and the projection goes on; an
event that cannot be folded stops it where it is, and readiness, the status,
`verify` and `rebuild` each name the deal and the position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from tests.api.conftest import ADMIN_KEY, action, bearer
from tests.helpers.legacy import store_unchecked
from tests.helpers.processes import until
from tests.helpers.tampering import tamper

if TYPE_CHECKING:
    import uuid

    from api.settings import Settings
    from domain.service import PhaseTracker

runner = CliRunner()


@pytest.fixture(autouse=True)
def configured(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)


def _tracker(client: TestClient) -> PhaseTracker:
    tracker: PhaseTracker = client.app.state.tracker  # type: ignore[attr-defined]
    return tracker


def test_a_nul_byte_already_in_the_log_is_shown_and_the_reports_go_on(
    client: TestClient,
) -> None:
    legacy, _ = store_unchecked(_tracker(client), "a\x00b", owner="agent\x00x")
    position = client.post("/v1/actions", json=action()).json()["position"]

    page = client.get("/v1/deals", params={"after": position, "limit": 10})
    ready = client.get("/readyz")
    verified = runner.invoke(cli, ["verify"])

    rows = {row["deal_id"]: row for row in page.json()["data"]}
    assert rows[str(legacy)]["contact_id"] == "a\ufffdb"
    assert ready.status_code == 200, ready.text
    assert verified.exit_code == 0, verified.output
    timeline = client.get(f"/v1/deals/{legacy}/timeline").json()
    assert timeline["entries"][0]["fields"]["owner"] == "agent\x00x"  # as logged


def _failure(client: TestClient) -> dict[str, object] | None:
    ready = client.get("/readyz")
    if ready.status_code == 200:
        return None
    failure: dict[str, object] | None = ready.json()["projection"]["failure"]
    return failure


def test_an_event_that_cannot_be_folded_is_named_by_every_process(
    api_settings: Settings,
) -> None:
    with (
        TestClient(create_app(api_settings), headers=bearer(ADMIN_KEY)) as worker,
        TestClient(create_app(api_settings), headers=bearer(ADMIN_KEY)) as other,
    ):
        worker.post("/v1/actions", json=action())
        ghost, position = store_unchecked(_tracker(worker), "ghost", version=99)
        worker.post("/v1/actions", json=action(contact_id="after"))

        until(lambda: _failure(worker) is not None)
        seen = [_failure(client) for client in (worker, other)]
        status = worker.get("/v1/projections").json()["data"][0]

    for failure in [*seen, status["failure"]]:
        assert failure is not None
        assert (failure["deal_id"], failure["position"]) == (str(ghost), position)
        assert "nl-tesoro v99 is not registered" in str(failure["reason"])
    assert status["position"] < position <= status["head"]


@pytest.mark.parametrize("command", ["verify", "rebuild"])
def test_verify_and_rebuild_name_the_deal_and_position_they_cannot_fold(
    tracker: PhaseTracker, command: str
) -> None:
    ghost, position = store_unchecked(tracker, "ghost", version=99)

    result = runner.invoke(cli, [command])

    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()[-1:]
    assert line == (
        f"error: cannot project deal {ghost} at position {position}: its pipeline "
        "nl-tesoro v99 is not registered in this database"
    )


def test_a_failed_rebuild_is_in_the_status_and_leaves_no_generation_behind(
    client: TestClient,
) -> None:
    ghost, position = store_unchecked(_tracker(client), "ghost", version=99)

    rebuilt = runner.invoke(cli, ["rebuild"])
    [status] = client.get("/v1/projections").json()["data"]

    assert rebuilt.exit_code == 1
    assert status["rebuilding"] is False
    assert status["rebuild_failure"]["deal_id"] == str(ghost)
    assert status["rebuild_failure"]["position"] == position


def _delete_event(tracker: PhaseTracker, deal_id: uuid.UUID, version: int) -> None:
    tamper(
        tracker,
        "DELETE FROM {events} WHERE originator_id = ? AND originator_version = ?",
        (deal_id, version),
    )


@pytest.mark.parametrize(
    ("version", "says"),
    [
        (2, "its event 2 is missing from the log (the next is 3)"),
        (1, "its opening event is missing from the log (found event 2)"),
    ],
)
def test_verify_names_the_deal_and_position_of_an_event_missing_from_the_log(
    tracker: PhaseTracker, version: int, says: str
) -> None:
    store_unchecked(tracker, "before", actions=("contact_captured",))
    deal_id, _ = store_unchecked(
        tracker, "gap", actions=("contact_captured", "budget_confirmed", "viewing")
    )
    store_unchecked(tracker, "later")
    position = tracker.store.position_of(deal_id, version + 1)
    _delete_event(tracker, deal_id, version)

    result = runner.invoke(cli, ["verify"])

    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"error: cannot project deal {deal_id} at position {position}: {says}"
    )


def test_replay_writes_out_control_characters_and_brackets_of_stored_text(
    tracker: PhaseTracker,
) -> None:
    note = "call back\x1b[2J\x07 [/b] [red]now"
    deal_id, _ = store_unchecked(tracker, "ann", note=note)

    result = runner.invoke(cli, ["replay", str(deal_id)], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "call back\\x1b[2J\\x07 [/b] [red]now" in result.output
