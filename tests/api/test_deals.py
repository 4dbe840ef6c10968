"""A deal read back from the event store, manual moves and timelines."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from tests.api.conftest import SKIP, action

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

DEAL_FIELDS = {
    "deal_id",
    "pipeline",
    "pipeline_version",
    "contact_id",
    "object_id",
    "phase",
    "phase_kind",
    "phase_since",
    "opened_at",
    "last_activity_at",
    "stale",
    "phase_label",
    "days_in_phase",
    "owner",
    "probability",
    "lost_reason",
    "amount",
    "currency",
    "weighted_amount",
}
ENTRY_FIELDS = {
    "action_id",
    "type",
    "outcome",
    "fields",
    "note",
    "actor",
    "occurred_at",
    "recorded_at",
    "phase_before",
    "phase_after",
    "voided",
    "kind",
}


def test_a_deal_reads_its_own_write_at_once(client: TestClient) -> None:
    logged = client.post("/v1/actions", json=action(object_id="house-9")).json()

    response = client.get(f"/v1/deals/{logged['deal_id']}")

    assert response.status_code == 200
    deal = response.json()
    assert set(deal) == DEAL_FIELDS
    assert deal["phase"] == "lead"
    assert deal["phase_kind"] == "open"
    assert (deal["pipeline"], deal["pipeline_version"]) == ("nl-tesoro", 1)
    assert (deal["contact_id"], deal["object_id"]) == ("contact-1", "house-9")
    assert deal["opened_at"].startswith("2024-03-04T09:00:00")


def test_an_unknown_deal_is_404_and_a_malformed_id_422(client: TestClient) -> None:
    missing = client.get(f"/v1/deals/{uuid.uuid4()}")
    malformed = client.get("/v1/deals/not-a-uuid")

    assert (missing.status_code, missing.json()["field"]) == (404, "deal_id")
    assert (malformed.status_code, malformed.json()["field"]) == (422, "deal_id")


def test_a_manual_move_with_a_reason_skips_phases(client: TestClient) -> None:
    deal_id = client.post("/v1/actions", json=action()).json()["deal_id"]

    without = client.post(f"/v1/deals/{deal_id}/moves", json={"phase": "negotiation"})
    moved = client.post(
        f"/v1/deals/{deal_id}/moves",
        json={"phase": "negotiation", "reason": "offer came by phone"},
    )

    assert (without.status_code, without.json()["field"]) == (422, "reason")
    assert moved.status_code == 201
    assert (moved.json()["previous_phase"], moved.json()["phase"]) == (
        "lead",
        "negotiation",
    )
    assert client.get(f"/v1/deals/{deal_id}").json()["phase"] == "negotiation"


def test_moves_to_unknown_phases_or_deals_are_rejected(client: TestClient) -> None:
    deal_id = client.post("/v1/actions", json=action()).json()["deal_id"]

    unknown_phase = client.post(f"/v1/deals/{deal_id}/moves", json={"phase": "moon"})
    unknown_deal = client.post(
        f"/v1/deals/{uuid.uuid4()}/moves", json={"phase": "lead"}
    )

    assert (unknown_phase.status_code, unknown_phase.json()["field"]) == (422, "phase")
    assert (unknown_deal.status_code, unknown_deal.json()["field"]) == (404, "deal_id")


def test_a_back_dated_action_lands_in_business_time_order(client: TestClient) -> None:
    deal_id = client.post("/v1/actions", json=action(action_id="a-1")).json()["deal_id"]
    client.post(
        "/v1/actions",
        json=action(
            action_id="a-3",
            type="offer_made",
            occurred_at="2024-03-20T09:00:00Z",
            fields=SKIP,
        ),
    )
    client.post(
        "/v1/actions",
        json=action(
            action_id="a-2",
            type="viewing",
            occurred_at="2024-03-10T09:00:00Z",
            fields=SKIP,
        ),
    )

    timeline = client.get(f"/v1/deals/{deal_id}/timeline").json()

    entries = timeline["entries"]
    assert set(entries[0]) >= ENTRY_FIELDS
    assert [e["action_id"] for e in entries] == ["a-1", "a-2", "a-3"]
    assert [(e["phase_before"], e["phase_after"]) for e in entries] == [
        (None, "lead"),
        ("lead", "viewing"),
        ("viewing", "negotiation"),
    ]
    assert timeline["phase"] == "negotiation"


def test_timeline_as_of_and_known_at_cut_business_and_recording_time(
    client: TestClient,
) -> None:
    deal_id = client.post("/v1/actions", json=action(action_id="a-1")).json()["deal_id"]
    first = client.get(f"/v1/deals/{deal_id}/timeline").json()["entries"][0]
    client.post(
        "/v1/actions",
        json=action(type="viewing", occurred_at="2024-03-01T09:00:00Z", fields=SKIP),
    )
    url = f"/v1/deals/{deal_id}/timeline"

    as_of = client.get(url, params={"as_of": "2024-03-02T00:00:00Z"}).json()
    known_at = client.get(url, params={"known_at": first["recorded_at"]}).json()
    naive = client.get(url, params={"as_of": "2024-03-02T00:00:00"})

    assert [e["type"] for e in as_of["entries"]] == ["viewing"]
    assert as_of["phase"] == "viewing"
    assert [e["action_id"] for e in known_at["entries"]] == ["a-1"]
    assert known_at["phase"] == "lead"
    assert (naive.status_code, naive.json()["field"]) == (422, "as_of")


def test_a_voided_entry_stays_in_the_timeline_marked_voided(client: TestClient) -> None:
    deal_id = client.post("/v1/actions", json=action(action_id="a-1")).json()["deal_id"]
    client.post(
        "/v1/actions",
        json=action(
            action_id="a-2", type="budget_confirmed", occurred_at="2024-03-05T09:00:00Z"
        ),
    )
    client.post("/v1/actions/a-2/void", json={"reason": "wrong contact"})

    entries = client.get(f"/v1/deals/{deal_id}/timeline").json()["entries"]

    voided = next(e for e in entries if e["action_id"] == "a-2")
    void = next(e for e in entries if e["kind"] == "void")
    assert voided["voided"] is True
    assert voided["phase_after"] == voided["phase_before"] == "lead"
    assert (void["reason"], void["voids"]) == ("wrong contact", "a-2")
