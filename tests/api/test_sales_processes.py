"""A closed deal closes one sales process, not the contact: the next inquiry by
the same natural keys opens the next process (HubSpot's advice, seeds/003),
and the closed deal's history stays as it was."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import TYPE_CHECKING, Any

from typer.testing import CliRunner

from api.bootstrap import open_tracker
from api.cli import app
from domain.deal import deal_id_for
from tests.api.conftest import head

if TYPE_CHECKING:
    from pathlib import Path

    import pytest
    from fastapi.testclient import TestClient

    from api.settings import Settings

LOST = {"closed_lost_reason": "budget"}


def day(n: int) -> str:
    return f"2024-03-{n:02d}T09:00:00+00:00"


def log(client: TestClient, contact: str = "p", **body: Any) -> Any:
    sent = {"pipeline": "hubspot-default", "contact_id": contact, **body}
    answer = client.post("/v1/actions", json=sent)
    assert answer.status_code == 201, answer.text
    return answer.json()


def entries(client: TestClient, deal_id: str) -> list[str]:
    timeline = client.get(f"/v1/deals/{deal_id}/timeline").json()
    return [e["action_id"] for e in timeline["entries"]]


def test_an_inquiry_after_a_lost_deal_opens_the_next_sales_process(
    client: TestClient,
) -> None:
    first = log(client, type="meeting_booked", action_id="p-1", occurred_at=day(1))
    log(client, type="deal_lost", action_id="p-2", occurred_at=day(2), fields=LOST)

    again = log(client, type="meeting_booked", action_id="p-3", occurred_at=day(9))

    assert again["deal_id"] != first["deal_id"]
    assert (again["phase"], again["previous_phase"]) == ("appointment_scheduled", None)
    assert entries(client, first["deal_id"]) == ["p-1", "p-2"]
    closed = client.get(f"/v1/deals/{first['deal_id']}").json()
    assert closed["phase"] == "closed_lost"
    # The natural keys now name the new process: the next action goes there.
    on = log(client, type="presentation_booked", action_id="p-4", occurred_at=day(10))
    assert on["deal_id"] == again["deal_id"]
    # Reports count both processes.
    funnel = client.get(
        "/v1/reports/funnel",
        params={"pipeline": "hubspot-default", "after": on["position"]},
    ).json()
    assert (funnel["open"], funnel["lost"]) == (1, 1)
    listed = client.get(
        "/v1/deals",
        params={"contact_id": "p", "after": on["position"]},
    ).json()["data"]
    assert sorted(d["phase"] for d in listed) == [
        "closed_lost",
        "presentation_scheduled",
    ]


def test_sending_the_inquiry_again_names_the_same_new_process_and_stores_nothing(
    client: TestClient,
) -> None:
    log(client, type="meeting_booked", occurred_at=day(1))
    log(client, type="deal_lost", occurred_at=day(2), fields=LOST)
    sent = {"type": "meeting_booked", "action_id": "p-again", "occurred_at": day(9)}
    again = log(client, **sent)
    before = head(client)

    repeated = client.post(
        "/v1/actions", json={"pipeline": "hubspot-default", "contact_id": "p", **sent}
    )

    assert repeated.status_code == 200  # a replay of what is stored
    assert repeated.json()["deal_id"] == again["deal_id"]
    assert head(client) == before


def test_what_does_not_start_a_process_stays_the_closed_deals_history(
    client: TestClient,
) -> None:
    first = log(client, type="meeting_booked", occurred_at=day(1))
    log(client, type="deal_lost", occurred_at=day(2), fields=LOST)

    late = log(
        client, type="deal_lost", action_id="late", occurred_at=day(3), fields=LOST
    )

    assert late["deal_id"] == first["deal_id"]
    assert late["effect"] == "terminal_phase"


def test_a_back_dated_action_before_the_close_corrects_the_closed_deal(
    client: TestClient,
) -> None:
    first = log(client, type="meeting_booked", occurred_at=day(1))
    log(client, type="deal_lost", occurred_at=day(5), fields=LOST)
    second = log(client, type="meeting_booked", occurred_at=day(8))

    back = log(client, type="presentation_booked", action_id="back", occurred_at=day(3))
    later = log(
        client, type="presentation_booked", action_id="later", occurred_at=day(9)
    )

    assert back["deal_id"] == first["deal_id"]
    assert later["deal_id"] == second["deal_id"]
    assert "back" in entries(client, first["deal_id"])


def test_a_win_back_the_pipeline_allows_from_a_closed_phase_stays_with_the_deal(
    client: TestClient,
) -> None:
    fields = {"first_name": "Jonas", "last_name": "Berg", "mobile": "+49 170 1"}
    sent = {"pipeline": "de-deal-phasen", "contact_id": "w"}
    first = client.post(
        "/v1/actions",
        json={**sent, "type": "inquiry", "occurred_at": day(1), "fields": fields},
    ).json()
    client.post(
        "/v1/actions",
        json={**sent, "type": "consultation_booked", "occurred_at": day(2)},
    )
    client.post(
        "/v1/actions",
        json={
            **sent,
            "type": "consultation_held",
            "outcome": "declined",
            "occurred_at": day(3),
        },
    )

    won_back = client.post(
        "/v1/actions",
        json={**sent, "type": "written_confirmation", "occurred_at": day(4)},
    ).json()

    assert won_back["deal_id"] == first["deal_id"]
    assert won_back["phase"] == "sold"


def test_each_process_closes_and_the_next_one_opens(client: TestClient) -> None:
    deals = []
    for n in range(3):
        opened = log(client, type="meeting_booked", occurred_at=day(1 + 3 * n))
        log(client, type="deal_lost", occurred_at=day(2 + 3 * n), fields=LOST)
        deals.append(opened["deal_id"])

    assert len(set(deals)) == 3
    for deal_id in deals:
        assert client.get(f"/v1/deals/{deal_id}").json()["phase"] == "closed_lost"


def test_an_import_opens_each_sales_process_as_the_api_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setenv("PHASELOG_DATABASE_URL", settings.database_url)
    path = tmp_path / "history.csv"
    path.write_text(
        "pipeline,contact_id,type,occurred_at,action_id,fields.closed_lost_reason\n"
        "hubspot-default,ann,meeting_booked,2024-03-01T09:00:00Z,a1,\n"
        "hubspot-default,ann,deal_lost,2024-03-02T09:00:00Z,a2,budget\n"
        "hubspot-default,ann,meeting_booked,2024-03-09T09:00:00Z,a3,\n"
        "hubspot-default,ann,presentation_booked,2024-03-10T09:00:00Z,a4,\n"
    )

    result = CliRunner().invoke(app, ["import", str(path)])

    assert result.exit_code == 0, result.output
    tracker = open_tracker(settings)
    try:
        holders = {}
        for action_id in ("a1", "a2", "a3", "a4"):
            found = tracker.store.find_action(action_id)
            assert found is not None
            holders[action_id] = found[0]
        first = deal_id_for("hubspot-default", "ann", None)
        assert holders["a1"] == holders["a2"] == first
        assert holders["a3"] == holders["a4"] != first
        latest = tracker.latest_process(first)
        assert latest == holders["a3"]
        assert tracker.deal(latest).state.phase == "presentation_scheduled"
    finally:
        tracker.close()
    replayed = CliRunner().invoke(
        app, ["replay", "--pipeline", "hubspot-default", "--contact", "ann"]
    )
    assert replayed.exit_code == 0, replayed.output
    assert "a3" in replayed.output and "a4" in replayed.output
    assert "a1" not in replayed.output


def test_a_deal_stored_before_processes_were_counted_is_the_first(
    client: TestClient,
) -> None:
    """Its opening event has no `process`: it reads as process 1, and the next
    inquiry after its close opens process 2."""
    tracker = client.app.state.tracker  # type: ignore[attr-defined]
    first = log(client, contact="old", type="meeting_booked", occurred_at=day(1))
    deal_id = uuid.UUID(first["deal_id"])
    opening = tracker.store.recorder.select_events(deal_id)[0]
    state = json.loads(opening.state)
    del state["process"]
    older = dataclasses.replace(opening, state=json.dumps(state).encode())

    deal = tracker.store.mapper.to_domain_event(older).mutate(None)

    assert (deal.id, deal.process) == (deal_id, 1)
    log(client, contact="old", type="deal_lost", occurred_at=day(2), fields=LOST)
    second = log(client, contact="old", type="meeting_booked", occurred_at=day(3))
    assert second["deal_id"] == str(deal_id_for("hubspot-default", "old", None, 2))
