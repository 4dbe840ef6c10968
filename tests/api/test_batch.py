"""Many actions in one request: all-or-nothing per deal, a result per item."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.api.conftest import action, head

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def test_a_rejected_action_keeps_its_whole_deal_out_but_not_other_deals(
    client: TestClient,
) -> None:
    batch = [
        action(contact_id="ann", action_id="ann-1"),
        action(contact_id="bob", action_id="bob-1"),
        action(
            contact_id="ann",
            action_id="ann-2",
            type="budget_confirmed",
            occurred_at="2024-03-05T09:00:00Z",
        ),
        action(contact_id="ann", action_id="ann-3", type="deal_lost"),
    ]

    response = client.post("/v1/actions:batch", json={"actions": batch})

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 3)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [424, 201, 424, 422]
    assert body["results"][3]["problem"]["field"] == "actions[3].fields.lost_reason"
    assert "another action of this deal" in body["results"][0]["problem"]["detail"]
    bob = body["results"][1]["result"]
    assert client.get(f"/v1/deals/{bob['deal_id']}").json()["phase"] == "lead"
    ann = client.post("/v1/actions", json=action(contact_id="ann")).json()
    assert ann["previous_phase"] is None  # nothing of ann's deal was stored


def test_a_batch_replayed_stores_nothing_and_answers_200_per_item(
    client: TestClient,
) -> None:
    batch = [
        action(action_id="a-1"),
        action(action_id="a-2", type="budget_confirmed"),
    ]
    first = client.post("/v1/actions:batch", json={"actions": batch}).json()
    stored = head(client)

    again = client.post("/v1/actions:batch", json={"actions": batch}).json()

    assert [r["status"] for r in first["results"]] == [201, 201]
    assert [r["status"] for r in again["results"]] == [200, 200]
    assert [r["result"] for r in again["results"]] == [
        r["result"] for r in first["results"]
    ]
    assert head(client) == stored


def test_a_conflicting_action_id_in_a_batch_is_409(client: TestClient) -> None:
    client.post("/v1/actions", json=action(action_id="a-1"))

    body = client.post(
        "/v1/actions:batch", json={"actions": [action(action_id="a-1", note="x")]}
    ).json()

    assert body["results"][0]["status"] == 409
    assert body["results"][0]["problem"]["field"] == "actions[0].action_id"


def test_schema_errors_in_a_batch_name_the_item_path(client: TestClient) -> None:
    naive = action(occurred_at="2024-03-04T09:00:00")

    response = client.post("/v1/actions:batch", json={"actions": [action(), naive]})
    empty = client.post("/v1/actions:batch", json={"actions": []})

    assert response.status_code == 422
    assert response.json()["field"] == "actions[1].occurred_at"
    assert (empty.status_code, empty.json()["field"]) == (422, "actions")
